"""Shared fixtures of the trainer tests: one shard set written by the pipeline for the whole session, and tiny
run configs."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from pixelgpt.dataset import schema
from pixelgpt.train.config import load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pipeline_shard_set(out: str) -> list[dict]:
    """The pipeline's own code (plan -> render each partition -> merge), run in this process on part of the
    embedded sample corpus, without starting Ray; returns the written samples in index order."""
    from streaming import StreamingDataset

    from pixelgpt.dataset.job import JobConfig
    from pixelgpt.dataset.partition import PartitionWorker, plan_partitions
    from pixelgpt.dataset.samples import sample_inputs
    from pixelgpt.dataset.summary import merge

    inputs = {k: v[:1] for k, v in sample_inputs().items() if k in ("pes2o", "wikipedia")}
    cfg = JobConfig(inputs=inputs, output=out, max_patches=64, max_tokens=128, workers=1, progress=False)
    plan = plan_partitions(cfg)
    worker = PartitionWorker(cfg)
    merge(cfg, plan, [worker.render(spec) for spec in plan], t0=0.0)
    read = StreamingDataset(remote=out, local=out + "-readback", shuffle=False)
    samples = [schema.decode_sample(read[i]) for i in range(read.num_samples)]
    del read
    shutil.rmtree(out + "-readback")
    return [{"patches": np.ascontiguousarray(x.patches), "tokens": x.tokens, "text": x.text} for x in samples]


@pytest.fixture(scope="session")
def shard_set(tmp_path_factory) -> tuple[str, list[dict]]:
    """(path, samples written) of one real shard set, written by the pipeline: Pango-rendered strips of the
    sample corpus, byte tokens, zstd MDS partitions, meta.json."""
    out = str(tmp_path_factory.mktemp("shards") / "set")
    return out, _pipeline_shard_set(out)


@pytest.fixture
def copy_shard_set(shard_set, tmp_path):
    """A private copy of the shard set that a test may alter (e.g. its meta.json)."""

    def copy(name: str = "copy") -> str:
        dst = str(tmp_path / name)
        shutil.copytree(shard_set[0], dst)
        return dst

    return copy


@pytest.fixture
def tiny_cfg(shard_set, tmp_path):
    """A tiny config factory: yamls/tiny/<variant>.yaml pointed at the session shard set and tmp folders."""

    def make(variant: str = "dualgpt", *overrides: str, run_name: str | None = None, root=None):
        root = root or tmp_path
        name = run_name or f"t-{variant}"
        base = [
            f"data.shards=[{{path: {shard_set[0]}}}]",
            f"run_name={name}",
            f"data.cache={root}/cache/{{run_name}}",
            f"output_dir={root}/runs/{{run_name}}",
            f"save_folder={root}/runs/{{run_name}}/checkpoints",
            "logging.tensorboard=false",
            "logging.console_interval=100ba",
        ]
        return load_config(os.path.join(REPO, "yamls", "tiny", f"{variant}.yaml"), [*base, *overrides])

    return make
