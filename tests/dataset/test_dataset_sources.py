"""Source readers on hand-made files in the published formats, including broken ones."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixelgpt.dataset import storage
from pixelgpt.dataset.samples import sample_inputs
from pixelgpt.dataset.sources import BUILTIN, Doc, Reject, SourceSpec, read_source


def _read(path, source, tmp_path, langs=None):
    return list(read_source(str(path), source, BUILTIN[source], str(tmp_path / "scratch"), langs))


def test_pes2o_jsonl_gz_fields(tmp_path):
    rows = [
        {"id": "77", "text": "An abstract.", "source": "s2ag", "added": "2023", "created": "2020"},
        {"id": "78", "text": "Another.", "source": "s2orc", "added": "2023", "created": "2021"},
    ]
    path = tmp_path / "train-00000-of-00001.json.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    docs = _read(path, "pes2o", tmp_path)
    assert docs == [Doc("77", "An abstract.", "pes2o", str(path)), Doc("78", "Another.", "pes2o", str(path))]


def test_c4_doc_id_is_file_and_line(tmp_path):
    path = tmp_path / "c4-train.00007-of-01024.json.gz"
    lines = [{"text": f"page {i}", "timestamp": "2019", "url": f"https://x/{i}"} for i in range(3)]
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode()))
    docs = _read(path, "c4", tmp_path)
    assert [d.doc_id for d in docs] == [f"{path.name}:{i}" for i in (1, 2, 3)]
    assert [d.text for d in docs] == ["page 0", "page 1", "page 2"]


def test_wikipedia_and_the_stack_parquet(tmp_path):
    wiki = tmp_path / "train-00000-of-00041.parquet"
    pq.write_table(pa.table({"id": ["12"], "url": ["u"], "title": ["T"], "text": ["Body."]}), wiki)
    assert _read(wiki, "wikipedia", tmp_path) == [Doc("12", "Body.", "wikipedia", str(wiki))]
    stack = tmp_path / "data-00000.parquet"
    table = pa.table(
        {
            "hexsha": ["a1", "b2", "c3"],
            "lang": ["Python", "Go", "Python"],
            "content": ["x = 1", "package m", "y"],
        }
    )
    pq.write_table(table, stack)
    assert [d.doc_id for d in _read(stack, "the-stack", tmp_path)] == ["a1", "b2", "c3"]
    assert [d.text for d in _read(stack, "the-stack", tmp_path, langs=["Python"])] == ["x = 1", "y"]


def test_bad_lines_are_rejected_with_reasons_and_the_rest_is_kept(tmp_path):
    raw = b"".join(
        [
            json.dumps({"id": "1", "text": "good"}).encode() + b"\n",
            b"{not json\n",
            b'{"id": "3", "text": "bad \xff\xfe utf8"}\n',
            b"\n",  # blank line: no document
            json.dumps({"id": "4", "title": "no text"}).encode() + b"\n",
            json.dumps(["a", "list"]).encode() + b"\n",
            json.dumps({"id": "7", "text": "also good"}).encode() + b"\n",
        ]
    )
    path = tmp_path / "mixed.json.gz"
    path.write_bytes(gzip.compress(raw))
    items = _read(path, "pes2o", tmp_path)
    assert [type(i).__name__ for i in items] == ["Doc", "Reject", "Reject", "Reject", "Reject", "Doc"]
    reasons = [i.reason for i in items if isinstance(i, Reject)]
    assert reasons[0].startswith("malformed json")
    assert reasons[1].startswith("invalid utf-8")
    assert "text field" in reasons[2] and "not an object" in reasons[3]
    # the record's own id when it has one, else <file>:<line>
    assert [i.doc_id for i in items if isinstance(i, Reject)] == [
        f"{path.name}:2",
        f"{path.name}:3",
        "4",
        f"{path.name}:6",
    ]


def test_truncated_gzip_keeps_what_was_read_and_rejects_the_rest(tmp_path):
    rows = [{"id": str(i), "text": f"document number {i} " * 50} for i in range(200)]
    lines = "".join(json.dumps(r) + "\n" for r in rows)
    data = gzip.compress(lines.encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    items = _read(path, "pes2o", tmp_path)
    docs = [i for i in items if isinstance(i, Doc)]
    assert isinstance(items[-1], Reject) and "truncated or corrupt" in items[-1].reason
    assert 0 < len(docs) < 200 and [d.doc_id for d in docs] == [str(i) for i in range(len(docs))]


def test_corrupt_parquet_is_one_reject_naming_the_file(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": ["1"], "url": ["u"], "title": ["t"], "text": ["x" * 1000]}), good)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-40])  # footer gone
    items = _read(bad, "wikipedia", tmp_path)
    assert len(items) == 1 and isinstance(items[0], Reject)
    assert items[0].file == str(bad) and "corrupt parquet" in items[0].reason


def test_generic_jsonl_with_named_field(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"body": "hello", "key": "k1"}) + "\n")
    spec = SourceSpec("jsonl", text_field="body", id_field="key")
    got = list(read_source(str(path), "notes", spec, str(tmp_path)))
    assert got == [Doc("k1", "hello", "notes", str(path))]


def test_missing_path_fails_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        storage.expand(str(tmp_path / "nothing-here" / "*.json.gz"))


def test_sample_corpus_has_all_four_sources_in_published_formats(tmp_path):
    inputs = sample_inputs()
    assert sorted(inputs) == ["c4", "pes2o", "the-stack", "wikipedia"]
    wiki = pq.read_table(inputs["wikipedia"][0])
    assert {"id", "url", "title", "text"} <= set(wiki.column_names)
    stack = pq.read_table(inputs["the-stack"][0])
    assert {"content", "lang", "hexsha", "max_stars_repo_path"} <= set(stack.column_names)
    assert len(set(stack.column("lang").to_pylist())) >= 4
    with gzip.open(inputs["pes2o"][0], "rt") as f:
        assert {"id", "text", "source", "added", "created"} <= set(json.loads(f.readline()))
    with gzip.open(inputs["c4"][0], "rt") as f:
        assert set(json.loads(f.readline())) == {"text", "timestamp", "url"}
    # at least 8 scripts among the Wikipedia articles' letters
    import unicodedata

    texts = wiki.column("text").to_pylist()
    scripts = {unicodedata.name(c).split()[0] for t in texts for c in t if c.isalpha()}
    assert len(scripts) >= 8, scripts
