"""The end of a render job: merge the finished partitions into one shard set, and the summary of what it
holds.

merge() writes, in this order, the tokenizer's files, meta.json, stats.json and last the root index.json: a
set is finished exactly when its index.json exists.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass

from pixelgpt.dataset import schema, storage, writer
from pixelgpt.dataset.job_config import JobConfig
from pixelgpt.dataset.partition import COUNT_KEYS, PartitionResult, PartitionSpec


@dataclass
class Summary:
    documents: int  # documents read: rendered + rejected + set_aside
    rendered: int
    rejected: int
    set_aside: int  # documents of the other split (JobConfig.heldout), counted here and rendered by its job
    unreadable: int  # lines, records or file tails that held no document (bad JSON, truncated gzip)
    chunks: int
    patches: int
    tokens: int
    rejects: dict[str, int]
    partitions: int
    partitions_skipped: int
    raw_bytes: int  # uncompressed shard bytes
    stored_bytes: int  # bytes on disk / in the bucket
    seconds: float  # the whole run: planning, rendering and merging
    complete: bool  # False when stop_after ended the run early (nothing merged)
    output: str = ""
    nodes: dict[str, str] = dataclasses.field(default_factory=dict)  # partition -> node that rendered it

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    @property
    def patches_per_s(self) -> float:
        return self.patches / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            **dataclasses.asdict(self),
            "docs_per_s": self.docs_per_s,
            "patches_per_s": self.patches_per_s,
        }

    def format(self) -> str:
        ratio = self.raw_bytes / self.stored_bytes if self.stored_bytes else 0.0
        rendered_now = self.partitions - self.partitions_skipped
        lines = [
            f"output     {self.output}" + ("" if self.complete else "  [stopped early: not merged]"),
            f"partitions {self.partitions} ({rendered_now} rendered now, {self.partitions_skipped} "
            "already complete)",
            f"documents  {self.documents} = rendered {self.rendered} + rejected {self.rejected}"
            + (f" + set aside {self.set_aside} (the other split's)" if self.set_aside else "")
            + (f"  (+ {self.unreadable} unreadable records)" if self.unreadable else ""),
            f"chunks {self.chunks}  patches {self.patches}  tokens {self.tokens}",
            "rejects    " + (", ".join(f"{k}: {v}" for k, v in self.rejects.items()) or "none"),
            f"bytes      raw {self.raw_bytes:,}  stored {self.stored_bytes:,}  ({ratio:.1f}x)",
            f"speed      {self.docs_per_s:.1f} docs/s  {self.patches_per_s:,.0f} patches/s"
            f"  ({self.seconds:.1f} s in all)",
        ]
        return "\n".join(lines)


def summarise(
    cfg: JobConfig, results: list[PartitionResult], seconds: float, complete: bool, index: dict | None
) -> Summary:
    total: Counter = Counter()
    reasons: Counter = Counter()
    for r in results:
        for k in COUNT_KEYS:
            total[k] += r.counts.get(k, 0)
        reasons.update(r.counts["rejects"])
    raw, stored = writer.shard_bytes(index) if index else (0, 0)
    return Summary(
        **{k: int(total[k]) for k in COUNT_KEYS},
        rejects=dict(sorted(reasons.items())),
        partitions=len(results),
        partitions_skipped=sum(r.skipped for r in results),
        raw_bytes=raw,
        stored_bytes=stored,
        seconds=seconds,
        complete=complete,
        output=cfg.output,
        nodes={r.name: r.counts["node"] for r in results if r.counts.get("node")},
    )


def merge(cfg: JobConfig, plan: list[PartitionSpec], results: list[PartitionResult], t0: float) -> Summary:
    """Root index.json from the indexes of the finished partitions (all of the plan), with meta.json,
    stats.json and the tokenizer's files beside it. Counts are sums of the partitions' own counts; `t0` is
    when the run started (perf_counter), so the summary's seconds include the merge."""
    by_name = {r.name: r for r in results}
    missing = [s.name for s in plan if s.name not in by_name]
    if missing:
        raise RuntimeError(f"cannot merge: partitions not finished: {', '.join(missing)}")
    names = [s.name for s in plan]
    ordered = [by_name[n] for n in names]
    index = writer.merge_indexes(cfg.output, names)
    tok = cfg.load_tokenizer()
    tok_dir = storage.join(cfg.output, writer.TOKENIZER_DIR)
    _save_tokenizer(tok, tok_dir)
    from pixelgpt.renderer import Renderer

    rcfg = cfg.renderer_config()
    counting = summarise(cfg, ordered, 0.0, complete=True, index=index)
    meta = schema.make_meta(
        renderer=rcfg.to_dict(),
        fonts=Renderer(rcfg).font_hashes(),
        tokenizer=tok.describe(),
        max_tokens=cfg.max_tokens,
        partitions=names,
        counts={k: getattr(counting, k) for k in COUNT_KEYS},
        rejects=counting.rejects,
    )
    storage.write_bytes(storage.join(cfg.output, schema.META_FILE), schema.meta_to_json(meta).encode())
    summary = dataclasses.replace(counting, seconds=time.perf_counter() - t0)
    writer.write_json(storage.join(cfg.output, schema.STATS_FILE), summary.to_dict())
    writer.write_json(storage.join(cfg.output, schema.INDEX_FILE), index)
    return summary


def _save_tokenizer(tok, uri: str) -> None:
    """The tokenizer's files beside the shards, so a trainer can put them in its exports."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pixelgpt-tok-") as tmp:
        tok.save(tmp)
        for name in sorted(os.listdir(tmp)):
            storage.upload_file(os.path.join(tmp, name), storage.join(uri, name))
