"""Published results the report sets beside ours, from `published_results.json` next to this module.

Each result names its source; a source is either verified (PIXEL's GLUE row, from PIXEL's README) or marked
secondary/unverified (the PixelGPT paper's numbers, known only from a machine-generated summary, and numbers
derived from it). The report keeps that marking on every number it prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).with_name("published_results.json")


@dataclass(frozen=True)
class PublishedResult:
    model: str
    modality: str | None
    task: str  # a task name, or "glue" for the GLUE average
    split: str
    metric: str
    value: float  # percent
    source: str  # a key of Published.sources
    verified: bool  # the source's flag
    derived: bool  # computed from stated differences, not stated itself
    note: str = ""
    variant: str = ""  # e.g. "gray" rendering


@dataclass(frozen=True)
class Published:
    sources: dict[str, dict]  # key -> {"verified": bool, "text": str, "derived": bool (optional)}
    results: tuple[PublishedResult, ...]

    def find(
        self, model: str, task: str, split: str | None = None, variant: str = ""
    ) -> PublishedResult | None:
        """The result of `model` on `task` (and `split`, when given); None if there is none."""
        for r in self.results:
            if (r.model, r.task, r.variant) == (model, task, variant) and split in (None, r.split):
                return r
        return None


def load_published(path: str | Path = DATA_FILE) -> Published:
    """Read the data file; a result naming an unknown source is an error in the file."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    sources = data["sources"]
    results = []
    for raw in data["results"]:
        if raw["source"] not in sources:
            raise ValueError(f"{path}: result {raw} names an unknown source")
        results.append(
            PublishedResult(
                model=raw["model"],
                modality=raw.get("modality"),
                task=raw["task"],
                split=raw["split"],
                metric=raw["metric"],
                value=float(raw["value"]),
                source=raw["source"],
                verified=bool(sources[raw["source"]]["verified"]),
                derived=bool(sources[raw["source"]].get("derived", False)),
                note=raw.get("note", ""),
                variant=raw.get("variant", ""),
            )
        )
    return Published(sources, tuple(results))
