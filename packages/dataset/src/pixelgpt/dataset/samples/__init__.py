"""The embedded sample corpus: the four sources in their published formats (see generate.py)."""

from __future__ import annotations

import glob
import os

DATA = os.path.join(os.path.dirname(__file__), "data")
PATTERNS = {
    "c4": "c4/*.json.gz",
    "pes2o": "pes2o/*.json.gz",
    "the-stack": "the-stack/*.parquet",
    "wikipedia": "wikipedia/*.parquet",
}


def sample_inputs() -> dict[str, list[str]]:
    """{source: [sorted file paths]} of the embedded corpus, ready for JobConfig(inputs=...)."""
    inputs = {source: sorted(glob.glob(os.path.join(DATA, p))) for source, p in PATTERNS.items()}
    empty = [s for s, files in inputs.items() if not files]
    if empty:
        raise FileNotFoundError(f"sample corpus incomplete under {DATA}: no files for {empty}")
    return inputs
