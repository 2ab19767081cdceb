"""Read one split of a fine-tuning task from any layout people have, local or s3:// (through fsspec).

    split = read_split("data/glue", "rte", "validation")   # the layout is detected
    split.examples  -> [Example(texts=(s1, s2), label=0, idx=0), ...]
    split.rejects   -> [Reject(idx=17, reason="empty text in field 'sentence2'", where=".../dev.tsv"), ...]

Layouts (`detect_layout` tries them in this order; the first with files for any split of the task wins):
  rendered-gz   the paper's pre-rendered baidu/rendered_GLUE and baidu/rendered_xnli (after `tar -x`):
                `<task>-<split>/part-00000.gz`, `xnli-<lang>-<split>/part-00000.gz`: gzip JSON lines holding
                the text fields, `label`, `image` (base64 PNG of a 16-px-high strip) and `num_patches`.
                HatemojiBuild as the paper's code had it: `emohate-<split>/<split>.jsonl` (or `hatemoji-`).
  hub-parquet   the Hub's parquet: nyu-mll/glue `<task>/<split>-00000-of-00001.parquet`, facebook/xnli
                `<lang>/<split>-00000-of-00001.parquet`; also the parquet-converter names
                `<config>/<split>/0000.parquet` and `<config>/<name>-<split>.parquet`.
  xnli-tsv      XNLI-1.0 `xnli.dev.tsv` / `xnli.test.tsv` (one file, a `language` column, `gold_label`,
                `sentence1`, `sentence2`) and XNLI-MT-1.0 `multinli.train.<lang>.tsv` (premise, hypo, label;
                `contradictory` means contradiction).
  hatemoji-csv  HatemojiBuild CSV: `text`, `label_gold` and a `split` column (train/dev/test, as in the
                authors' HatemojiTrain.csv), or one CSV per split (`train.csv`, `validation.csv`, `test.csv`).
  glue-tsv      the original GLUE download (`CoLA/train.tsv` without header, `SST-2/train.tsv`, MRPC
                `train.tsv`/`dev.tsv` or `msr_paraphrase_{train,test}.txt`, `MNLI/dev_matched.tsv`, ...), and
                the tiny task's folder (`train.tsv`, `dev.tsv`, `test.tsv`).

Every row becomes an Example or a Reject with its reason (empty text, label out of range, unparsable line,
image of the wrong height, ...). Rows whose label is -1 (GLUE test sets) or that have no label column are
kept with label None: they are predicted, not scored. User errors (unknown task, missing split, no
supported layout, an unreadable file) raise FinetuneError with one line naming what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import json
import math
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from pixelgpt.finetune.tasks import XNLI_LANGUAGES, FinetuneError, TaskSpec, get_task

# the renderer's strip height (docs/paper-facts.md: Rendering); a rendered image of another height is wrong
PATCH_HEIGHT = 16

LAYOUTS = ("rendered-gz", "hub-parquet", "xnli-tsv", "hatemoji-csv", "glue-tsv")


@dataclass
class Example:
    texts: tuple[str, ...]  # in TaskSpec.text_fields order
    label: int | float | None  # None: unlabelled (test rows with label -1): predicted, not scored
    idx: int  # the row's position in its split's source (files read in order); unique within a Split
    image: np.ndarray | None = None  # rendered layouts: uint8 (16, W, 3) RGB strip as stored
    num_patches: int | None = None  # rendered layouts: the renderer's num_text_patches
    language: str | None = None  # xnli
    # Rendered layouts read with decode_images=False keep the PNG here instead of `image` (memory: a
    # decoded MNLI train split would need hundreds of GB); `pixels()` decodes either way.
    image_png: bytes | None = field(default=None, repr=False)

    def pixels(self) -> np.ndarray | None:
        """The (16, W, 3) uint8 strip, decoding the stored PNG when it was kept encoded."""
        if self.image is not None or self.image_png is None:
            return self.image
        return decode_png(self.image_png)


@dataclass
class Reject:
    idx: int
    reason: str
    where: str  # the file


@dataclass
class Split:
    task: str
    split: str
    examples: list[Example]
    rejects: list[Reject]
    layout: str
    files: tuple[str, ...] = ()  # what was read, in order

    def reject_counts(self) -> dict[str, int]:
        """Rejects grouped by the kind of reason (the text before the first ':')."""
        return dict(Counter(r.reason.split(":")[0] for r in self.rejects))

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.reject_counts().items()))
        unlabelled = sum(e.label is None for e in self.examples)
        return (
            f"{self.task} {self.split}: {len(self.examples)} examples ({unlabelled} unlabelled), "
            f"{len(self.rejects)} rejected{f' ({kinds})' if kinds else ''} [{self.layout}]"
        )


def decode_png(png: bytes) -> np.ndarray:
    """An encoded image file -> uint8 (H, W, 3) RGB."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        return np.array(img.convert("RGB"), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------------------
# Files: fsspec for every protocol; s3:// through pixelgpt.dataset.storage (boto3) when s3fs is missing.


class _Files:
    """The files below one folder (or one file), listed once, opened by their path relative to it."""

    def __init__(self, root: str):
        self.root = root.rstrip("/") or root
        self._fs = self._storage = None
        try:
            import fsspec

            self._fs, self._base = fsspec.core.url_to_fs(self.root)
        except ImportError:
            if not self.root.startswith("s3://"):
                raise
            from pixelgpt.dataset import storage  # boto3, honours S3_ENDPOINT_URL

            self._storage = storage
        self.rel = self._list_s3() if self._storage is not None else self._list_fsspec()

    def _list_s3(self) -> list[str]:
        try:
            found = self._storage.expand(self.root + "/*")  # fnmatch's * crosses folders: every key below
        except FileNotFoundError:
            return []
        return sorted(uri[len(self.root) + 1 :] for uri in found)

    def _list_fsspec(self) -> list[str]:
        if self._fs.isfile(self._base):  # one file given (a HatemojiBuild CSV): list it alone
            self.root = os.path.dirname(self.root) or "."
            self._base, name = os.path.split(self._base)
            return [name]
        self._base = self._base.rstrip("/")
        return sorted(p[len(self._base) + 1 :] for p in self._fs.find(self._base))

    def where(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def open(self, rel: str) -> IO[bytes]:
        if self._storage is not None:
            return self._storage.open_binary(self.where(rel))
        return self._fs.open(f"{self._base}/{rel}", "rb")

    def open_text(self, rel: str) -> IO[str]:
        """Text lines; utf-8-sig drops the byte-order mark the MSR paraphrase files start with."""
        stream = self.open(rel)
        if rel.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=stream)
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")

    def matching(self, pattern: str, flags: int = 0) -> list[str]:
        regex = re.compile(pattern, flags)
        return [r for r in self.rel if regex.fullmatch(r)]


# ----------------------------------------------------------------------------------------------------------
# Rows: what a layout reader yields before validation.


@dataclass
class _Row:
    idx: int
    where: str
    texts: list  # raw values of the task's text fields
    label: object  # raw label (int, float, str or None); None also when the file has no label column
    language: str | None = None
    image: object = None  # base64 text (rendered layouts)
    num_patches: object = None
    rendered: bool = False


class _RowError(Exception):
    """One row is unusable; the message is the Reject's reason."""


@dataclass(frozen=True)
class _Source:
    rel: str
    language: str | None = None


# ----------------------------------------------------------------------------------------------------------
# Public API


def detect_layout(path: str, task: TaskSpec | str) -> str:
    """Which supported layout holds `task` under `path`; FinetuneError naming the path if none does."""
    return _detect(_open_folder(path), get_task(task))


def read_split(
    path: str,
    task: TaskSpec | str,
    split: str,
    languages: str | Sequence[str] | None = None,
    *,
    decode_images: bool = True,
    limit: int | None = None,
) -> Split:
    """Read `split` of `task` from the folder `path` in whichever layout it is.

    languages: xnli only, a subset of the 15 (default all); their rows are concatenated in that order.
    decode_images: False keeps rendered images as PNG bytes (Example.image_png; the height is still checked).
    limit: stop after this many usable examples (quick runs).
    """
    task = get_task(task)
    if split not in task.splits:
        raise FinetuneError(f"{task.name} has no split {split!r}; its splits: {', '.join(task.splits)}")
    langs = _languages(task, languages)
    files = _open_folder(path)
    layout = _detect(files, task)
    sources = _sources(files, task, split, langs, layout)
    examples, rejects = [], []
    for item in _rows(files, task, split, langs, layout, sources):
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        try:
            examples.append(_to_example(task, split, item, decode_images))
        except _RowError as e:
            rejects.append(Reject(item.idx, str(e), item.where))
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        first = f"; first reject: {rejects[0].reason} ({rejects[0].where})" if rejects else ""
        raise FinetuneError(f"{task.name} {split} under {path}: no usable example{first}")
    where = tuple(files.where(s.rel) for s in sources)
    return Split(task.name, split, examples, rejects, layout, where)


def _open_folder(path: str) -> _Files:
    files = _Files(str(path))
    if not files.rel:
        raise FinetuneError(f"no files under {path} (missing or empty folder)")
    return files


def _languages(task: TaskSpec, languages) -> tuple[str, ...]:
    if not task.languages:
        if languages:
            raise FinetuneError(f"languages apply to xnli only, not to {task.name}")
        return ()
    if languages is None:
        return task.languages
    langs = (languages,) if isinstance(languages, str) else tuple(languages)
    if not langs:
        raise FinetuneError(f"languages: an empty list; give some of {', '.join(task.languages)}")
    unknown = [lang for lang in langs if lang not in task.languages]
    if unknown:
        raise FinetuneError(f"unknown {task.name} language(s) {unknown}; known: {', '.join(task.languages)}")
    return langs


# ----------------------------------------------------------------------------------------------------------
# Layout detection and the files of one split


def _detect(files: _Files, task: TaskSpec) -> str:
    for layout in _layouts_for(task):  # in order of preference
        if any(_find(files, task, split, task.languages or (None,), layout) for split in task.splits):
            return layout
    raise FinetuneError(
        f"no supported layout for {task.name} under {files.root} "
        f"(looked for: {', '.join(_layouts_for(task))}; see pixelgpt.finetune.readers)"
    )


def _layouts_for(task: TaskSpec) -> tuple[str, ...]:
    """The layouts `task` can come in, the preferred first."""
    if task.name == "xnli":
        return ("rendered-gz", "hub-parquet", "xnli-tsv")
    if task.name == "hatemoji":
        return ("rendered-gz", "hub-parquet", "hatemoji-csv")
    return ("rendered-gz", "hub-parquet", "glue-tsv")


def _sources(files: _Files, task: TaskSpec, split: str, langs: tuple, layout: str) -> list[_Source]:
    """The files of `split` (per language for xnli, in the order asked); FinetuneError naming what is
    missing."""
    sources = _find(files, task, split, langs or (None,), layout)
    if not sources:
        present = [s for s in task.splits if _find(files, task, s, langs or (None,), layout)]
        raise FinetuneError(
            f"split {split!r} of {task.name} not found under {files.root} ({layout} layout; "
            f"splits found: {', '.join(present) or 'none'})"
        )
    # Per-language files: every language asked for must have some (xnli.dev/test.tsv: checked on reading).
    missing = [lang for lang in langs if lang not in {s.language for s in sources}]
    if missing and all(s.language for s in sources):
        raise FinetuneError(
            f"{task.name} {split}: no files for language(s) {', '.join(missing)} under {files.root}"
        )
    return sources


def _find(files: _Files, task: TaskSpec, split: str, langs: tuple, layout: str) -> list[_Source]:
    finder = {
        "rendered-gz": _find_rendered,
        "hub-parquet": _find_parquet,
        "xnli-tsv": _find_xnli_tsv,
        "hatemoji-csv": _find_hatemoji_csv,
        "glue-tsv": _find_glue_tsv,
    }[layout]
    return finder(files, task, split, langs)


_RENDERED_PREFIXES = {"hatemoji": ("hatemoji", "emohate")}  # "emohate": the name in the paper's code


def _find_rendered(files: _Files, task: TaskSpec, split: str, langs: tuple) -> list[_Source]:
    out = []
    for lang in langs:
        for prefix in _RENDERED_PREFIXES.get(task.name, (task.name,)):
            folder = f"{prefix}-{lang}-{split}" if lang else f"{prefix}-{split}"
            found = files.matching(rf"(?:.*/)?{re.escape(folder)}/[^/]+\.(?:gz|jsonl|json)")
            out += [_Source(rel, lang) for rel in found]
    return out


def _parquet_patterns(prefix: str, split: str) -> list[str]:
    """The Hub's parquet names for one split below `prefix` (a regex of folders)."""
    s = re.escape(split)
    return [
        rf"{prefix}{s}-\d{{5}}-of-\d{{5}}\.parquet",  # main branch: train-00000-of-00001.parquet
        rf"{prefix}{s}/\d{{4}}\.parquet",  # refs/convert/parquet: train/0000.parquet
        rf"{prefix}[\w.]+-{s}(?:-\d{{5}}-of-\d{{5}})?\.parquet",  # older converter: glue-train.parquet
    ]


def _find_parquet(files: _Files, task: TaskSpec, split: str, langs: tuple) -> list[_Source]:
    out = []
    for lang in langs:
        # The task's (or language's) config folder; else (one-config tasks) the path is that folder itself.
        folder = lang or task.name
        prefixes = [rf"(?:.*/)?{re.escape(folder)}/"] + ([] if lang else [r"(?:data/|default/)?"])
        for prefix in prefixes:
            found = [rel for pattern in _parquet_patterns(prefix, split) for rel in files.matching(pattern)]
            if found:
                out += [_Source(rel, lang) for rel in sorted(set(found))]
                break
    return out


def _find_xnli_tsv(files: _Files, task: TaskSpec, split: str, langs: tuple) -> list[_Source]:
    if split == "train":
        found = [(files.matching(rf"(?:.*/)?multinli\.train\.{lang}\.tsv"), lang) for lang in langs]
        return [_Source(_shallowest(rels), lang) for rels, lang in found if rels]
    name = {"validation": "xnli.dev.tsv", "test": "xnli.test.tsv"}[split]
    rels = files.matching(rf"(?:.*/)?{re.escape(name)}")
    return [_Source(_shallowest(rels))] if rels else []


_HATEMOJI_SPLIT_VALUES = {"train": ("train",), "validation": ("validation", "dev", "val"), "test": ("test",)}


def _find_hatemoji_csv(files: _Files, task: TaskSpec, split: str, langs: tuple) -> list[_Source]:
    names = "|".join(_HATEMOJI_SPLIT_VALUES[split])
    per_split = files.matching(rf"(?:.*/)?(?:{names})\.csv")
    if per_split:
        return [_Source(_shallowest(per_split))]
    # One CSV with a `split` column (the authors' HatemojiTrain.csv): read where that split has rows.
    return [_Source(rel) for rel in files.matching(r".*\.csv") if _csv_has_split(files, rel, split)]


def _csv_has_split(files: _Files, rel: str, split: str) -> bool:
    with files.open_text(rel) as f:
        reader = csv.DictReader(f)
        if "split" not in (reader.fieldnames or []):
            return False
        wanted = _HATEMOJI_SPLIT_VALUES[split]
        return any((row.get("split") or "").strip().lower() in wanted for row in reader)


# The original GLUE download: folder name per task and the file(s) of each split, first found wins.
_GLUE_DIRS = {
    "cola": "CoLA",
    "sst2": "SST-2",
    "mrpc": "MRPC",
    "qqp": "QQP",
    "stsb": "STS-B",
    "mnli": "MNLI",
    "qnli": "QNLI",
    "rte": "RTE",
    "wnli": "WNLI",
    "tiny": "tiny",
}
_GLUE_FILES = {"train": ("train.tsv",), "validation": ("dev.tsv",), "test": ("test.tsv",)}
_GLUE_FILES_BY_TASK = {
    "mnli": {
        "train": ("train.tsv",),
        "validation_matched": ("dev_matched.tsv",),
        "validation_mismatched": ("dev_mismatched.tsv",),
        "test_matched": ("test_matched.tsv",),
        "test_mismatched": ("test_mismatched.tsv",),
    },
    # MRPC's GLUE train.tsv/dev.tsv come from msr_paraphrase_train.txt; the MSR test file keeps its labels.
    "mrpc": {
        "train": ("train.tsv", "msr_paraphrase_train.txt"),
        "validation": ("dev.tsv",),
        "test": ("test.tsv", "msr_paraphrase_test.txt"),
    },
}


def _find_glue_tsv(files: _Files, task: TaskSpec, split: str, langs: tuple) -> list[_Source]:
    folder = re.escape(_GLUE_DIRS[task.name])
    for name in _GLUE_FILES_BY_TASK.get(task.name, _GLUE_FILES)[split]:
        # In the task's GLUE folder (any case: "SST-2", "sst-2"), or the path is that folder itself.
        rels = files.matching(rf"(?:(?:.*/)?{folder}/)?{re.escape(name)}", re.IGNORECASE)
        if rels:
            return [_Source(_shallowest(rels))]
    return []


def _shallowest(rels: list[str]) -> str:
    return min(rels, key=lambda r: (r.count("/"), r))


# ----------------------------------------------------------------------------------------------------------
# Layout readers: yield _Row (or Reject for a line that cannot even be parsed), idx running over the split


def _rows(files, task, split, langs, layout, sources) -> Iterator[_Row | Reject]:
    reader = {
        "rendered-gz": _rendered_rows,
        "hub-parquet": _parquet_rows,
        "xnli-tsv": _xnli_tsv_rows,
        "hatemoji-csv": _hatemoji_rows,
        "glue-tsv": _glue_rows,
    }[layout]
    offset = 0  # rows of earlier files (languages) come first, so idx stays unique within the split
    for source in sources:
        next_offset = offset
        try:
            for item in reader(files, task, split, langs, source):
                item.idx += offset
                next_offset = max(next_offset, item.idx + 1)
                yield item
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
            raise FinetuneError(f"cannot read {files.where(source.rel)}: {_one_line(e)}") from e
        offset = next_offset


def _label_key(task: TaskSpec, row: dict) -> str | None:
    """HatemojiBuild calls its gold label `label_gold`; everything else `label`."""
    for key in ("label", "label_gold") if task.name == "hatemoji" else ("label",):
        if key in row:
            return key
    return None


def _rendered_rows(files, task, split, langs, source) -> Iterator[_Row | Reject]:
    where = files.where(source.rel)
    with files.open_text(source.rel) as f:
        idx = -1
        for line in f:
            if not line.strip():
                continue
            idx += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield Reject(idx, f"unparsable JSON line: {e.msg}", where)
                continue
            if not isinstance(row, dict):
                yield Reject(idx, "unparsable JSON line: not an object", where)
                continue
            key = _label_key(task, row)
            yield _Row(
                idx,
                where,
                [row.get(name) for name in task.text_fields],
                row.get(key) if key else None,
                source.language,
                image=row.get("image"),
                num_patches=row.get("num_patches"),
                rendered=True,
            )


def _parquet_rows(files, task, split, langs, source) -> Iterator[_Row]:
    import pyarrow.parquet as pq

    where = files.where(source.rel)
    with files.open(source.rel) as f:
        # Remote streams are not seekable; parquet needs random access, so read those whole.
        handle = f if hasattr(f, "seek") and f.seekable() else io.BytesIO(f.read())
        parquet = pq.ParquetFile(handle)
        columns = parquet.schema_arrow.names
        missing = [name for name in task.text_fields if name not in columns]
        if missing:
            raise FinetuneError(f"{where}: no column(s) {missing} (columns: {', '.join(columns)})")
        key = _label_key(task, dict.fromkeys(columns))
        wanted = [*task.text_fields, *([key] if key else [])]
        idx = 0
        for batch in parquet.iter_batches(batch_size=8192, columns=wanted):
            for row in batch.to_pylist():
                texts = [row[name] for name in task.text_fields]
                yield _Row(idx, where, texts, row[key] if key else None, source.language)
                idx += 1


def _tsv_lines(files: _Files, rel: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a tab-separated file with no quoting (GLUE's and XNLI's TSVs)."""
    with files.open_text(rel) as f:
        for number, line in enumerate(f):
            line = line.rstrip("\n").rstrip("\r")
            if line.strip():
                yield number, line.split("\t")


def _table_rows(files: _Files, rel: str, header: list[str] | None = None) -> Iterator[Reject | tuple]:
    """(data row position, {column: value}) per line of a TSV, or a Reject for a line whose field count
    differs from the header's; the first line is the header unless one is given."""
    where, idx = files.where(rel), -1
    for _number, fields in _tsv_lines(files, rel):
        if header is None:
            header = [h.strip() for h in fields]
            continue
        idx += 1
        if len(fields) != len(header):
            reason = f"unparsable line: {len(fields)} tab-separated fields, expected {len(header)}"
            yield Reject(idx, reason, where)
        else:
            yield idx, dict(zip(header, fields))


# GLUE TSV columns per task: the text columns (TaskSpec.text_fields order) and the label column.
_GLUE_COLUMNS = {
    "cola": (("sentence",), "label"),
    "sst2": (("sentence",), "label"),
    "mrpc": (("#1 String", "#2 String"), "Quality"),
    "qqp": (("question1", "question2"), "is_duplicate"),
    "stsb": (("sentence1", "sentence2"), "score"),
    "mnli": (("sentence1", "sentence2"), "gold_label"),
    "qnli": (("question", "sentence"), "label"),
    "rte": (("sentence1", "sentence2"), "label"),
    "wnli": (("sentence1", "sentence2"), "label"),
    "tiny": (("sentence1", "sentence2"), "label"),
}
# CoLA's train.tsv and dev.tsv have no header (its test.tsv has `index<TAB>sentence`).
_COLA_COLUMNS = ["source", "label", "original_label", "sentence"]


def _glue_header(files: _Files, task: TaskSpec, rel: str) -> list[str] | None:
    if task.name != "cola":
        return None
    first = next(_tsv_lines(files, rel), (0, [""]))[1]
    return None if first[0].strip() == "index" else _COLA_COLUMNS


def _glue_rows(files, task, split, langs, source) -> Iterator[_Row | Reject]:
    where = files.where(source.rel)
    text_columns, label_column = _GLUE_COLUMNS[task.name]
    for item in _table_rows(files, source.rel, _glue_header(files, task, source.rel)):
        if isinstance(item, Reject):
            yield item
            continue
        idx, row = item
        missing = [c for c in text_columns if c not in row]
        if missing:
            raise FinetuneError(f"{where}: no column(s) {missing} (header: {', '.join(row)})")
        yield _Row(idx, where, [row[c] for c in text_columns], row.get(label_column))


def _xnli_tsv_rows(files, task, split, langs, source) -> Iterator[_Row | Reject]:
    if split == "train":
        yield from _multinli_rows(files, source)
        return
    where, seen = files.where(source.rel), set()
    for item in _table_rows(files, source.rel):
        if isinstance(item, Reject):
            yield item
            continue
        idx, row = item
        language = (row.get("language") or "").strip()
        if language not in XNLI_LANGUAGES:
            yield Reject(idx, f"unknown language: {language!r}", where)
        elif language in langs:  # rows of languages not asked for belong to no split read here
            seen.add(language)
            yield _Row(
                idx, where, [row.get("sentence1"), row.get("sentence2")], row.get("gold_label"), language
            )
    missing = [lang for lang in langs if lang not in seen]
    if missing:
        raise FinetuneError(f"xnli {split}: no rows for language(s) {', '.join(missing)} in {where}")


def _multinli_rows(files: _Files, source: _Source) -> Iterator[_Row | Reject]:
    """XNLI-MT-1.0's multinli.train.<lang>.tsv: premise, hypo, label."""
    where = files.where(source.rel)
    for item in _table_rows(files, source.rel):
        if isinstance(item, Reject):
            yield item
            continue
        idx, row = item
        yield _Row(idx, where, [row.get("premise"), row.get("hypo")], row.get("label"), source.language)


def _hatemoji_rows(files, task, split, langs, source) -> Iterator[_Row]:
    where = files.where(source.rel)
    wanted = _HATEMOJI_SPLIT_VALUES[split]
    with files.open_text(source.rel) as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        if "text" not in columns:
            raise FinetuneError(f"{where}: no column 'text' (columns: {', '.join(columns)})")
        key = _label_key(task, dict.fromkeys(columns))
        idx = -1
        for row in reader:
            if "split" in columns and (row.get("split") or "").strip().lower() not in wanted:
                continue
            idx += 1
            yield _Row(idx, where, [row.get("text")], row.get(key) if key else None)


# ----------------------------------------------------------------------------------------------------------
# Validation: one raw row -> Example, or _RowError with the reason


def _to_example(task: TaskSpec, split: str, row: _Row, decode_images: bool) -> Example:
    texts = tuple(_check_text(value, name) for value, name in zip(row.texts, task.text_fields))
    label = _parse_label(task, row.label)
    if label is None and split == task.train_split:
        raise _RowError("unlabelled row in a training split")
    example = Example(texts, label, row.idx, language=row.language)
    if row.rendered:
        example.num_patches = _check_num_patches(row.num_patches)
        png = _check_image(row.image)
        if decode_images:
            example.image = decode_png(png)
        else:
            example.image_png = png
    return example


def _check_text(value: object, name: str) -> str:
    if value is None:
        raise _RowError(f"missing text in field {name!r}")
    if not isinstance(value, str) or not value.strip():
        raise _RowError(f"empty text in field {name!r}")
    return value


_LABEL_ALIASES = {
    "contradictory": "contradiction",  # XNLI-MT's multinli.train.<lang>.tsv
    "not_hateful": "non-hateful",
    "non_hateful": "non-hateful",
    "nothate": "non-hateful",
    "hate": "hateful",
}


def _parse_label(task: TaskSpec, raw: object) -> int | float | None:
    """A raw label (Hub id, GLUE string, number as text) -> the Hub's label id (float for regression);
    None for an unlabelled row (no value, -1). Raises _RowError naming a label out of range or unknown."""
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "-1", "-1.0")):
        return None
    if isinstance(raw, str):
        text = raw.strip().lower()
        name = _LABEL_ALIASES.get(text, text)
        if name in task.label_names:
            return task.label_names.index(name)
        try:
            raw = float(text)
        except ValueError:
            known = f" (labels: {', '.join(task.label_names)})" if task.label_names else ""
            raise _RowError(f"unknown label: {raw!r}{known}") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _RowError(f"unknown label: {raw!r}")
    return _regression_label(task, raw) if task.is_regression else _class_label(task, raw)


def _regression_label(task: TaskSpec, value: float) -> float | None:
    if value == -1:
        return None
    low, high = task.label_range or (-math.inf, math.inf)
    if not math.isfinite(value) or not low <= value <= high:
        raise _RowError(f"label out of range: {value} ({task.name} scores lie in [{low:g}, {high:g}])")
    return float(value)


def _class_label(task: TaskSpec, value: float) -> int | None:
    if value == -1:
        return None
    if not math.isfinite(value) or value != int(value) or not 0 <= value < task.num_labels:
        raise _RowError(f"label out of range: {value:g} ({task.name} has {task.num_labels} labels)")
    return int(value)


def _check_num_patches(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _RowError(f"bad num_patches: {value!r} (a non-negative int is needed)")
    return value


def _check_image(value: object) -> bytes:
    """The PNG bytes of a base64 image, after checking it opens and is one 16-px-high strip."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(value, str) or not value:
        raise _RowError("missing image")
    try:
        png = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _RowError("image is not valid base64") from None
    try:
        with Image.open(io.BytesIO(png)) as img:  # reads the header only
            height = img.height
    except (UnidentifiedImageError, OSError):
        raise _RowError("image is not a readable image file") from None
    if height != PATCH_HEIGHT:
        raise _RowError(f"image of the wrong height: {height} px, expected {PATCH_HEIGHT}")
    return png


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__
