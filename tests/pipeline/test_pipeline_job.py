"""The render job end to end on the embedded sample corpus: real Ray, real renderer, real MDS read back."""

import dataclasses
import json
import os
from collections import defaultdict

import numpy as np
import pytest
from pipeline_helpers import MAX_PATCHES, count_input_docs, job, read_set, tree_bytes

from pixelgpt.dataset import schema
from pixelgpt.dataset.job import ConfigError, JobConfig, run
from pixelgpt.dataset.samples import sample_inputs
from pixelgpt.dataset.tokenizers import ByteTokenizer
from pixelgpt.renderer import Renderer, RendererConfig


def test_end_to_end_every_sample_is_its_rendering_and_tokens_decode(clean, tmp_path):
    out, summary = clean
    docs = count_input_docs(sample_inputs())
    assert summary.complete and summary.documents == len(docs) == 342
    assert summary.documents == summary.rendered + summary.rejected and summary.rejected == 0
    samples = read_set(out, tmp_path / "cache")
    assert len(samples) == summary.chunks and sum(s.num_patches for s in samples) == summary.patches
    renderer, tok = Renderer(RendererConfig(max_patches=MAX_PATCHES)), ByteTokenizer()
    chunks = defaultdict(dict)
    for s in samples:
        want = renderer.render(s.text).patches
        assert s.num_patches <= MAX_PATCHES and np.array_equal(s.patches, want)
        assert tok.decode(s.tokens) == s.text
        tp = s.token_patches
        assert tp.shape == (len(s.tokens), 2) and tp.min() >= 0 and tp.max() <= s.num_patches - 1
        assert np.all(tp[:, 0] <= tp[:, 1])
        chunks[s.doc_id][s.chunk] = s.text
    # every document is rendered, its chunks numbered 0..k-1 and together hold its text (whitespace aside)
    assert set(chunks) == set(docs)
    for doc_id, parts in chunks.items():
        assert sorted(parts) == list(range(len(parts)))
        joined = "".join("".join(parts[k].split()) for k in range(len(parts)))
        assert joined == "".join(docs[doc_id].split())


def test_meta_and_stats_beside_the_partitions(clean):
    out, summary = clean
    with open(os.path.join(out, schema.META_FILE)) as f:
        meta = schema.check_meta(json.load(f))
    assert meta["tokenizer"]["fingerprint"] == ByteTokenizer().fingerprint()
    assert meta["renderer"]["max_patches"] == MAX_PATCHES and meta["fonts"]
    assert meta["counts"]["chunks"] == summary.chunks
    with open(os.path.join(out, schema.STATS_FILE)) as f:
        stats = json.load(f)
    assert stats["documents"] == 342 and stats["patches_per_s"] > 0
    names = sorted(d for d in os.listdir(out) if os.path.isfile(os.path.join(out, d, "index.json")))
    assert names == meta["partitions"] and len(names) == 8
    for name in names:  # nothing but shards and the index inside a partition
        assert all(f == "index.json" or f.startswith("shard.") for f in os.listdir(os.path.join(out, name)))


def test_failed_task_is_retried_and_resumed_run_is_byte_identical(clean, tmp_path):
    out, _ = clean
    resumed = tmp_path / "resumed"
    first = run(job(resumed, stop_after=3))
    assert not first.complete and first.partitions == 3
    assert not (resumed / "index.json").exists()
    # a half-written partition from a killed task: shards but no index.json; it must be redone
    (resumed / "wikipedia-00000").mkdir()
    (resumed / "wikipedia-00000" / "shard.00000.mds.zstd").write_bytes(b"half written")
    second = run(job(resumed))
    assert second.complete and second.partitions_skipped == 3
    assert tree_bytes(str(resumed)) == tree_bytes(out)
    # resuming into a set made with other settings would mix strips: refused before any work
    with pytest.raises(ConfigError, match="other settings"):
        run(dataclasses.replace(job(resumed), max_patches=MAX_PATCHES // 2))


def test_publish_to_s3_and_read_back_through_remote(clean, s3_bucket, tmp_path):
    from pixelgpt.dataset.shard_inspect import inspect

    out, _ = clean
    wiki = {"wikipedia": sample_inputs()["wikipedia"]}
    remote = f"s3://{s3_bucket}/sets/wiki"
    summary = run(job(remote, inputs=wiki, staging=str(tmp_path / "staging")))
    assert summary.complete and summary.documents == 84
    got = read_set(remote, tmp_path / "cache")
    local = [s for s in read_set(out, tmp_path / "cache-local") if s.source == "wikipedia"]
    assert [(s.doc_id, s.chunk, s.text) for s in got] == [(s.doc_id, s.chunk, s.text) for s in local]
    assert all(np.array_equal(a.patches, b.patches) for a, b in zip(got, local, strict=True))
    with open(os.devnull, "w") as devnull:
        assert inspect(remote, file=devnull) == 0


def test_missing_input_and_bad_config_fail_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        run(job(tmp_path / "x", inputs={"c4": [str(tmp_path / "no-such-dir" / "*.json.gz")]}))
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="max_patchez"):
        JobConfig.from_dict({"inputs": {"c4": ["a"]}, "output": "o", "max_patchez": 3})
    with pytest.raises(ConfigError, match="output"):
        JobConfig.from_dict({"inputs": {"c4": ["a"]}})
    with pytest.raises(ConfigError, match="inputs.pesto"):
        JobConfig.from_dict({"inputs": {"pesto": ["a"]}, "output": "o"})
    with pytest.raises(ConfigError, match="workers"):
        JobConfig.from_dict({"inputs": {"c4": ["a"]}, "output": "o", "workers": 0})


def test_inputs_from_s3_globs_give_the_same_samples(clean, s3_bucket, tmp_path):
    import boto3

    out, _ = clean
    client = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
    for f in sample_inputs()["c4"]:
        client.upload_file(f, s3_bucket, f"corpora/c4/{os.path.basename(f)}")
    summary = run(
        job(tmp_path / "from-s3", inputs={"c4": [f"s3://{s3_bucket}/corpora/c4/c4-train.*.json.gz"]})
    )
    assert summary.complete and summary.documents == 90 and summary.partitions == 2
    got = read_set(str(tmp_path / "from-s3"), tmp_path / "cache")
    local = [s for s in read_set(out, tmp_path / "cache-local") if s.source == "c4"]
    assert [(s.doc_id, s.chunk, s.text) for s in got] == [(s.doc_id, s.chunk, s.text) for s in local]
