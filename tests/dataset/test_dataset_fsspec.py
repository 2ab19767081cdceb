"""Inputs wherever fsspec reaches: a memory:// filesystem (in this process, so the partition is rendered here
without Ray) gives the same partition, byte for byte, as the same files read from disk."""

import os

import fsspec
import pytest

from pixelgpt.dataset import storage
from pixelgpt.dataset.job_config import ConfigError, JobConfig
from pixelgpt.dataset.partition import PartitionWorker, plan_partitions
from pixelgpt.dataset.samples import sample_inputs


def tree(root) -> dict[str, bytes]:
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                out[os.path.relpath(os.path.join(d, f), root)] = fh.read()
    return out


def test_memory_filesystem_input_renders_like_local_files(tmp_path):
    fs = fsspec.filesystem("memory")
    files = sample_inputs()["c4"]
    for f in files:
        with open(f, "rb") as src, fs.open(f"/corpora/c4/{os.path.basename(f)}", "wb") as dst:
            dst.write(src.read())
    assert storage.expand("memory://corpora/c4/*.json.gz") == [
        f"memory:///corpora/c4/{os.path.basename(f)}" for f in sorted(files)
    ]
    outs = {}
    for name, inputs in (("memory", ["memory://corpora/c4/*.json.gz"]), ("disk", files)):
        cfg = JobConfig(inputs={"c4": inputs}, output=str(tmp_path / name), max_patches=64, max_tokens=128)
        worker = PartitionWorker(cfg)
        for spec in plan_partitions(cfg):
            worker.render(spec)
        outs[name] = tree(tmp_path / name)
    stats = {k for k in outs["disk"] if k.startswith("stats")}  # name the input files (fingerprint)
    assert len(outs["disk"]) > 4
    assert {k: v for k, v in outs["memory"].items() if k not in stats} == {
        k: v for k, v in outs["disk"].items() if k not in stats
    }


def test_outputs_must_be_local_or_s3():
    with pytest.raises(ConfigError, match="local folder or s3://"):
        JobConfig.from_dict({"inputs": {"c4": ["a"]}, "output": "gs://bucket/set"})
