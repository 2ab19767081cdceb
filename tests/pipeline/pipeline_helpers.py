"""Shared helpers of the pipeline tests."""

import gzip
import json
import os

import pyarrow.parquet as pq

from pixelgpt.dataset import schema
from pixelgpt.dataset.job import JobConfig
from pixelgpt.dataset.samples import sample_inputs

MAX_PATCHES = 128


def job(output, **kw) -> JobConfig:
    return JobConfig(
        inputs=kw.pop("inputs", sample_inputs()),
        output=str(output),
        max_patches=MAX_PATCHES,
        size_limit="1mb",
        progress=False,
        **kw,
    )


def count_input_docs(inputs) -> dict[str, str]:
    """doc_id -> raw text, read with plain gzip/json/pyarrow (independent of the job's readers)."""
    docs = {}
    for source, files in inputs.items():
        for f in files:
            if f.endswith(".gz"):
                with gzip.open(f, "rt", encoding="utf-8") as fh:
                    for i, line in enumerate(fh, start=1):
                        rec = json.loads(line)
                        key = rec["id"] if source == "pes2o" else f"{os.path.basename(f)}:{i}"
                        docs[key] = rec["text"]
            else:
                table = pq.read_table(f).to_pylist()
                for rec in table:
                    key = rec["hexsha"] if source == "the-stack" else rec["id"]
                    docs[key] = rec["content"] if source == "the-stack" else rec["text"]
    return docs


def read_set(remote: str, cache) -> list[schema.Sample]:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=remote, local=str(cache), shuffle=False, batch_size=1, validate_hash="xxh64")
    samples = [schema.decode_sample(ds[i]) for i in range(ds.num_samples)]
    del ds
    return samples


def tree_bytes(root: str, skip=("stats.json",)) -> dict[str, bytes]:
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), root)
            if rel not in skip:
                with open(os.path.join(d, f), "rb") as fh:
                    out[rel] = fh.read()
    return out
