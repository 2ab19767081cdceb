"""Readers for the four corpora in the formats they are published in, plus generic jsonl / parquet.

Every reader yields, in file order, either a `Doc` or a `Reject` (a line or file that cannot become a
document, with its reason), so that every input document ends in exactly one place. Inputs are local paths
or s3:// URIs (S3 objects are downloaded to a scratch folder first: parquet needs a seekable file).
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pixelgpt.dataset import storage


@dataclass(frozen=True)
class Doc:
    doc_id: str
    text: str
    source: str
    file: str


@dataclass(frozen=True)
class Reject:
    """Something that did not become samples: a document (kind "document"), or input that holds no document:
    an unparsable line or record ("record") or an unreadable rest of a file ("file")."""

    doc_id: str
    source: str
    file: str
    reason: str
    kind: str = "document"

    def to_dict(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "file": self.file,
            "reason": self.reason,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class SourceSpec:
    """How to read one source: file format, the text field, the id field (None: `<file>:<line or row>`), and
    an optional field whose value must be in `langs` (The Stack's `lang`)."""

    format: Literal["jsonl", "parquet"]
    text_field: str = "text"
    id_field: str | None = None
    lang_field: str | None = None


BUILTIN: dict[str, SourceSpec] = {
    "pes2o": SourceSpec("jsonl", "text", "id"),  # jsonl.gz: id, text, source, added, created
    "wikipedia": SourceSpec("parquet", "text", "id"),  # parquet: id, url, title, text
    "c4": SourceSpec("jsonl", "text", None),  # json.gz lines: text, timestamp, url
    "the-stack": SourceSpec("parquet", "content", "hexsha", lang_field="lang"),
}


def read_source(
    uri: str, source: str, spec: SourceSpec, scratch: str, langs: list[str] | None = None
) -> Iterator[Doc | Reject]:
    path = storage.local_copy(uri, scratch)
    if spec.format == "jsonl":
        yield from _read_jsonl(path, uri, source, spec)
    else:
        yield from _read_parquet(path, uri, source, spec, langs)


def _base(uri: str) -> str:
    return os.path.basename(uri.rstrip("/"))


def _open_lines(path: str):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _read_jsonl(path: str, uri: str, source: str, spec: SourceSpec) -> Iterator[Doc | Reject]:
    base = _base(uri)
    lineno = 0
    try:
        with _open_lines(path) as f:
            for lineno, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue  # a blank line holds no document
                where = f"{base}:{lineno}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield Reject(where, source, uri, f"invalid utf-8 at byte {e.start}", "record")
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    yield Reject(where, source, uri, f"malformed json: {e.msg}", "record")
                    continue
                yield _doc_from_record(obj, where, source, uri, spec, None)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        yield Reject(
            f"{base}:{lineno + 1}+",
            source,
            uri,
            f"truncated or corrupt file after line {lineno}: {e}",
            "file",
        )


def _doc_from_record(obj, where: str, source: str, uri: str, spec: SourceSpec, langs) -> Doc | Reject | None:
    if not isinstance(obj, dict):
        return Reject(where, source, uri, "record is not an object", "record")
    doc_id = where
    if spec.id_field is not None:
        value = obj.get(spec.id_field)
        if value is None or value == "":
            return Reject(where, source, uri, f"missing id field {spec.id_field!r}")
        doc_id = str(value)
    if langs is not None and spec.lang_field is not None and obj.get(spec.lang_field) not in langs:
        return None
    text = obj.get(spec.text_field)
    if not isinstance(text, str):
        return Reject(doc_id, source, uri, f"missing or non-string text field {spec.text_field!r}")
    return Doc(doc_id, text, source, uri)


def _read_parquet(path: str, uri: str, source: str, spec: SourceSpec, langs) -> Iterator[Doc | Reject]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = _base(uri)
    row = 0
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        wanted = [c for c in (spec.text_field, spec.id_field, spec.lang_field) if c is not None]
        missing = [c for c in wanted if c not in names]
        if missing:
            yield Reject(f"{base}:*", source, uri, f"parquet file lacks column(s) {missing}", "file")
            return
        for batch in pf.iter_batches(batch_size=1024, columns=wanted):
            for rec in batch.to_pylist():
                where = f"{base}:{row}"
                row += 1
                doc = _doc_from_record(rec, where, source, uri, spec, langs)
                if doc is not None:
                    yield doc
    except (pa.ArrowException, OSError) as e:
        yield Reject(f"{base}:{row}+", source, uri, f"corrupt parquet after row {row}: {e}", "file")
