"""Partitions: the unit of work of the render job. A partition is a deterministic slice of one source's sorted
input files, rendered whole by one worker and published atomically (writer.PartitionWriter).

    plan = plan_partitions(cfg)                    # [PartitionSpec], same inputs -> same plan
    worker = PartitionWorker(cfg)                  # what a Ray actor holds: renderer + tokenizer, built once
    result = worker.render(plan[0])                # read -> samples -> MDS -> rejects, stats, index (last)
    done = completed(cfg, plan[0])                 # a verified complete partition's result, or None
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pixelgpt.dataset import schema, storage, writer
from pixelgpt.dataset.job_config import ConfigError, JobConfig
from pixelgpt.dataset.sources import Reject, read_source
from pixelgpt.dataset.splits import is_heldout
from pixelgpt.dataset.transform import DocToSamples, Rejected

# documents = rendered + rejected + set_aside (documents of the other split, with JobConfig.heldout > 0)
COUNT_KEYS = ("documents", "rendered", "rejected", "set_aside", "unreadable", "chunks", "patches", "tokens")


@dataclass(frozen=True)
class PartitionSpec:
    name: str  # <source>-<5-digit index>
    source: str
    files: tuple[str, ...]


@dataclass
class PartitionResult:
    name: str
    counts: dict[str, Any]  # COUNT_KEYS, rejects by reason, fingerprint, seconds, node
    skipped: bool = False  # already complete before this run


def plan_partitions(cfg: JobConfig) -> list[PartitionSpec]:
    """Deterministic slices of each source's sorted, de-duplicated input files. A path or glob matching
    nothing raises FileNotFoundError naming it, before any work starts."""
    plan = []
    for source in sorted(cfg.inputs):
        files = sorted({f for pattern in cfg.inputs[source] for f in storage.expand(pattern)})
        step = cfg.files_per_partition
        for i in range(0, len(files), step):
            plan.append(PartitionSpec(f"{source}-{i // step:05d}", source, tuple(files[i : i + step])))
    return plan


@functools.lru_cache(maxsize=8)
def _tokenizer_fingerprint(spec: str) -> str:
    """Loaded once per process: a resumed job checks every complete partition against it."""
    from pixelgpt.dataset.tokenizers import load_tokenizer

    return load_tokenizer(spec).fingerprint()


def partition_fingerprint(cfg: JobConfig, spec: PartitionSpec) -> str:
    """Everything a partition's bytes depend on: a re-run may only skip partitions with the same one."""
    tok = _tokenizer_fingerprint(cfg.tokenizer)
    parts = [cfg.renderer, cfg.max_patches, cfg.max_tokens, tok, cfg.compression, str(cfg.size_limit)]
    parts += [cfg.max_doc_chars, cfg.langs, cfg.generic.get(spec.source), spec.source, list(spec.files)]
    parts += [schema.SCHEMA_VERSION]
    if cfg.heldout:  # (only then: partitions rendered before splits existed keep their fingerprints)
        parts += [cfg.heldout, cfg.split]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def completed(cfg: JobConfig, spec: PartitionSpec) -> PartitionResult | None:
    """The result of a partition an earlier run completed (index, stats and shards agree), None when it is not
    complete; a complete partition made with other settings or inputs is a ConfigError."""
    complete, stats = writer.is_complete(cfg.output, spec.name)
    if not complete:
        return None
    if stats.get("fingerprint") != partition_fingerprint(cfg, spec):
        raise ConfigError(
            f"output: {storage.join(cfg.output, spec.name)} was rendered with other settings or inputs; "
            "use a new output or delete it"
        )
    return PartitionResult(spec.name, {**stats, "seconds": 0.0}, skipped=True)


def worker_key(cfg: JobConfig) -> str:
    """What a worker's renderer and tokenizer depend on: workers with equal keys are interchangeable."""
    return json.dumps(
        [
            cfg.renderer,
            cfg.max_patches,
            cfg.max_tokens,
            cfg.max_doc_chars,
            _tokenizer_fingerprint(cfg.tokenizer),
        ],
        sort_keys=True,
        default=str,
    )


class PartitionWorker:
    """What one worker holds: the document -> samples transform (a Renderer and a tokenizer), built once and
    used for many partitions."""

    def __init__(self, cfg: JobConfig):
        self.cfg = cfg
        self.key = worker_key(cfg)
        self.to_samples = DocToSamples(
            cfg.renderer_config(), cfg.load_tokenizer(), cfg.max_tokens, cfg.max_doc_chars
        )

    def node(self) -> str:
        """Where this worker runs (recorded per partition in the summary and stats.json): inside Ray, the
        Ray node's IP address (what `ray status` and the dashboard name nodes by; hostnames can repeat, e.g.
        containers or network namespaces sharing one); outside Ray, the hostname."""
        import sys

        ray = sys.modules.get("ray")  # a worker process of a Ray actor has imported ray already
        if ray is not None and ray.is_initialized():
            return ray.util.get_node_ip_address()
        import socket

        return socket.gethostname()

    def render(self, spec: PartitionSpec, cfg: JobConfig | None = None) -> PartitionResult:
        """Read, chunk, tokenize, render and write one partition, then publish it (index.json last).
        `cfg` (default: this worker's) must need the same renderer and tokenizer."""
        cfg = cfg or self.cfg
        if worker_key(cfg) != self.key:
            raise ValueError("render: cfg needs another renderer/tokenizer than this worker holds")
        t0 = time.perf_counter()
        counts: Counter = Counter()
        reasons: Counter = Counter()
        rejects: list[dict] = []
        source_spec = cfg.source_spec(spec.source)
        held_out = cfg.split == "heldout"
        with (
            tempfile.TemporaryDirectory(prefix="pixelgpt-dl-") as scratch,
            writer.PartitionWriter(
                cfg.output,
                spec.name,
                size_limit=cfg.size_limit,
                compression=cfg.compression,
                staging=cfg.staging,
            ) as out,
        ):
            for uri in spec.files:
                for item in read_source(uri, spec.source, source_spec, scratch, cfg.langs):
                    if isinstance(item, Reject):
                        reject = item
                    elif cfg.heldout and is_heldout(item.source, item.doc_id, cfg.heldout) != held_out:
                        counts["documents"] += 1
                        counts["set_aside"] += 1  # the other split's
                        continue
                    else:
                        try:
                            samples = self.to_samples(item)
                        except Rejected as e:
                            reject = Reject(item.doc_id, item.source, item.file, str(e))
                        else:
                            for sample in samples:
                                out.write(schema.encode_sample(sample))
                                counts["patches"] += sample.num_patches
                                counts["tokens"] += len(sample.tokens)
                            counts["chunks"] += len(samples)
                            counts["documents"] += 1
                            counts["rendered"] += 1
                            self.after_document(spec, counts)
                            continue
                    if reject.kind == "document":
                        counts["documents"] += 1
                        counts["rejected"] += 1
                    else:  # a line or file that holds no document (bad JSON, a truncated gzip)
                        counts["unreadable"] += 1
                    reasons[reject.reason.split(":")[0]] += 1
                    rejects.append(reject.to_dict())
            stats = {
                **{k: int(counts[k]) for k in COUNT_KEYS},
                "rejects": dict(sorted(reasons.items())),
                "fingerprint": partition_fingerprint(cfg, spec),
            }
            stats = out.commit(stats, rejects)
        return PartitionResult(spec.name, {**stats, "seconds": time.perf_counter() - t0, "node": self.node()})

    def after_document(self, spec: PartitionSpec, counts: Counter) -> None:
        """Called after every rendered document; a hook for tests that inject faults (does nothing here)."""
