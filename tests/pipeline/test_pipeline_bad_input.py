"""Bad input: each broken document ends in the rejects with its reason; nothing else is lost."""

import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
from pipeline_helpers import job, read_set

from pixelgpt.dataset import schema
from pixelgpt.dataset.job import run


def build_bad_corpus(root) -> dict[str, list[str]]:
    pes2o = root / "pes2o"
    pes2o.mkdir()
    lines = [
        json.dumps({"id": "good-1", "text": "A perfectly normal abstract about rivers."}).encode(),
        b'{"id": "broken", "text": "no closing brace"',
        b'{"id": "latin1", "text": "caf\xe9 au lait"}',
        json.dumps({"id": "empty", "text": ""}).encode(),
        json.dumps({"id": "blank", "text": "  \n\t \n "}).encode(),
        json.dumps({"id": "huge", "text": "word " * 2_000_001}).encode(),  # 10 MB
        json.dumps({"id": "controls", "text": "NUL\x00 here, bell\x07 there, escape\x1b[0m done"}).encode(),
        json.dumps({"id": "surrogate", "text": "lone \ud800 surrogate"}).encode(),
        json.dumps({"id": "good-2", "text": "Another fine abstract."}).encode(),
    ]
    (pes2o / "a.json.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    rows = [json.dumps({"id": f"t{i}", "text": f"document {i} " * 40}) for i in range(400)]
    data = gzip.compress(("\n".join(rows) + "\n").encode())
    (pes2o / "b-truncated.json.gz").write_bytes(data[: len(data) // 2])
    wiki = root / "wikipedia"
    wiki.mkdir()
    cols = {"id": ["w1", "w2"], "url": ["u1", "u2"], "title": ["A", "B"], "text": ["Alpha.", "Beta."]}
    table = pa.table(cols)
    pq.write_table(table, wiki / "good.parquet")
    (wiki / "corrupt.parquet").write_bytes((wiki / "good.parquet").read_bytes()[:-30])
    return {"pes2o": [str(pes2o / "*.json.gz")], "wikipedia": [str(wiki / "*.parquet")]}


def test_bad_input_is_rejected_with_reasons_and_the_rest_rendered(ray_local, tmp_path):
    inputs = build_bad_corpus(tmp_path)
    out = tmp_path / "out"
    summary = run(job(out, inputs=inputs))
    assert summary.complete and summary.documents == summary.rendered + summary.rejected

    rejects = {}
    for name in sorted(os.listdir(out / schema.REJECTS_DIR)):
        with open(out / schema.REJECTS_DIR / name) as f:
            for line in f:
                r = json.loads(line)
                assert set(r) == {"doc_id", "source", "file", "reason", "kind"}
                rejects[r["doc_id"]] = r
    reason = {k: v["reason"] for k, v in rejects.items()}
    assert reason["a.json.gz:2"].startswith("malformed json")
    assert reason["a.json.gz:3"].startswith("invalid utf-8")
    assert reason["empty"] == "empty" and reason["blank"] == "whitespace only"
    assert reason["huge"].startswith("too long")
    trunc = [v for k, v in rejects.items() if k.startswith("b-truncated.json.gz:")]
    assert len(trunc) == 1 and "truncated" in trunc[0]["reason"]
    assert trunc[0]["file"].endswith("b-truncated.json.gz")
    corrupt = [v for k, v in rejects.items() if k.startswith("corrupt.parquet:")]
    assert len(corrupt) == 1 and "corrupt parquet" in corrupt[0]["reason"]
    # lines and file tails that hold no document are rejects of their file, not documents
    kinds = {k: v["kind"] for k, v in rejects.items()}
    assert [k for k, v in kinds.items() if v == "document"] == ["empty", "blank", "huge"]
    assert summary.rejected == 3 and summary.unreadable == 4 and len(rejects) == 7

    samples = read_set(str(out), tmp_path / "cache")
    by_doc = {s.doc_id: s for s in samples}
    # control characters are removed (documented normalisation), lone surrogates become U+FFFD
    assert by_doc["controls"].text == "NUL here, bell there, escape[0m done"
    assert by_doc["surrogate"].text == "lone \ufffd surrogate"
    assert {"good-1", "good-2", "w1", "w2", "t0"} <= set(by_doc)
    truncated_docs = {d for d in by_doc if d.startswith("t")}
    assert 0 < len(truncated_docs) < 400 and truncated_docs == {f"t{i}" for i in range(len(truncated_docs))}
    assert summary.rendered == len({s.doc_id for s in samples})
