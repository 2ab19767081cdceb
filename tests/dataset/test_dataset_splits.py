"""A held-out split carved from the corpus by document: the train and held-out jobs render disjoint sets of
documents that together are the corpus, each sample exactly as the unsplit job renders it, and every document
is accounted for in both jobs' counts."""

import random
import shutil

import numpy as np
import pytest

from pixelgpt.dataset import schema
from pixelgpt.dataset.job_config import ConfigError, JobConfig
from pixelgpt.dataset.partition import PartitionWorker, plan_partitions
from pixelgpt.dataset.samples import sample_inputs
from pixelgpt.dataset.splits import is_heldout
from pixelgpt.dataset.summary import merge


def render(out: str, **split) -> tuple[dict, dict]:
    """({(doc_id, chunk): (tokens, patches)} read back with StreamingDataset, the merged counts) of one job
    over part of the sample corpus, rendered in this process without Ray."""
    from streaming import StreamingDataset

    inputs = {k: v[:1] for k, v in sample_inputs().items() if k in ("pes2o", "c4")}
    cfg = JobConfig(inputs=inputs, output=out, max_patches=64, max_tokens=128, progress=False, **split)
    plan = plan_partitions(cfg)
    worker = PartitionWorker(cfg)
    summary = merge(cfg, plan, [worker.render(spec) for spec in plan], t0=0.0)
    read = StreamingDataset(remote=out, local=out + "-readback", shuffle=False)
    samples = {}
    for i in range(read.num_samples):
        s = schema.decode_sample(read[i])
        samples[(s.source, s.doc_id, s.chunk)] = (s.tokens.tobytes(), np.asarray(s.patches).tobytes())
    del read
    shutil.rmtree(out + "-readback")
    return samples, summary.to_dict()


def test_train_and_heldout_splits_partition_the_corpus(tmp_path):
    full, full_counts = render(str(tmp_path / "full"))
    train, train_counts = render(str(tmp_path / "train"), heldout=0.3, split="train")
    held, held_counts = render(str(tmp_path / "held"), heldout=0.3, split="heldout")

    docs = {k[:2] for k in full}
    train_docs, held_docs = {k[:2] for k in train}, {k[:2] for k in held}
    assert train_docs.isdisjoint(held_docs) and train_docs | held_docs == docs
    assert 0.15 < len(held_docs) / len(docs) < 0.45  # ~30% of ~100 documents
    assert {**train, **held} == full  # every sample byte for byte as the unsplit job wrote it

    for counts in (train_counts, held_counts):  # every document read, and rendered by exactly one of them
        assert counts["documents"] == full_counts["documents"]
        assert counts["documents"] == counts["rendered"] + counts["rejected"] + counts["set_aside"]
    assert train_counts["set_aside"] == held_counts["rendered"] + held_counts["rejected"]
    assert (
        full_counts["set_aside"] == 0
        and train_counts["patches"] + held_counts["patches"] == full_counts["patches"]
    )


def test_a_documents_split_depends_only_on_its_source_id_and_the_fraction():
    rng = random.Random(0)
    ids = [f"doc-{rng.getrandbits(40)}" for _ in range(20_000)]
    held = [is_heldout("c4", i, 0.1) for i in ids]
    assert 0.09 < sum(held) / len(ids) < 0.11
    assert held == [is_heldout("c4", i, 0.1) for i in ids]  # no state: the same answer every time
    assert all(is_heldout("c4", i, 0.2) for i, h in zip(ids, held) if h)  # a larger fraction keeps these
    assert [is_heldout("wikipedia", i, 0.1) for i in ids] != held  # the source is part of the key


@pytest.mark.parametrize(
    "split, match",
    [
        ({"heldout": 1.0}, "heldout: want a fraction"),
        ({"heldout": -0.1}, "heldout: want a fraction"),
        ({"split": "heldout"}, "split: 'heldout' needs heldout > 0"),
        ({"heldout": 0.1, "split": "test"}, "split"),
    ],
)
def test_bad_split_settings_are_config_errors(split, match):
    with pytest.raises(ConfigError, match=match):
        JobConfig.from_dict({"inputs": {"c4": ["a"]}, "output": "out", **split})
