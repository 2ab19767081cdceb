"""The render job: corpora -> chunks -> tokens + rendered patches -> MDS partitions -> one merged shard set.

    cfg = JobConfig(inputs={"pes2o": ["data/*.json.gz"]}, output="s3://bucket/shards")
    plan = plan_partitions(cfg)            # deterministic slices of the sorted input files
    render_partition(plan[0], cfg)         # one partition, in this process (what a Ray actor runs)
    summary = run(cfg)                     # all of it on Ray: renderer actors, retries, merge, meta/stats

A partition is complete only when its index.json exists; `run` skips complete partitions, so a re-run of an
interrupted job finishes it, and the merged set is byte-identical to an uninterrupted run's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pixelgpt.dataset import schema, storage, writer
from pixelgpt.dataset.align import token_patches
from pixelgpt.dataset.chunking import ChunkError, chunk_spans
from pixelgpt.dataset.normalize import normalize
from pixelgpt.dataset.sources import BUILTIN, Doc, Reject, SourceSpec, read_source
from pixelgpt.dataset.tokenizers import load_tokenizer


class ConfigError(ValueError):
    """A bad job configuration; the message names the key."""


@dataclass
class JobConfig:
    inputs: dict[str, list[str]]  # source -> local globs / s3:// URIs
    output: str  # local folder or s3://bucket/prefix
    tokenizer: str = "byte"  # "byte" or a path to a tokenizer.json
    max_patches: int = 1024  # strip budget, end patch included
    renderer: dict[str, Any] = field(default_factory=dict)  # extra RendererConfig fields
    workers: int = 2  # renderer actors (one CPU each)
    files_per_partition: int = 1
    size_limit: int | str = schema.SIZE_LIMIT  # uncompressed bytes per shard
    compression: str = schema.COMPRESSION
    staging: str | None = None  # local staging folder for s3:// output (default: the temp dir)
    langs: list[str] | None = None  # keep only these values of a source's lang field (The Stack)
    generic: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {format, text_field, id_field}
    max_doc_chars: int = 2_000_000  # longer documents are rejected ("too long"), never hang the job
    max_retries: int = 2  # extra attempts for a partition whose task failed
    ray_address: str | None = None  # None: $RAY_ADDRESS (ray job submit) or an in-process Ray
    progress: bool = True  # a line per finished partition
    stop_after: int | None = None  # render at most this many partitions, then stop without merging
    fail_once: list[str] = field(default_factory=list)  # test hook: these partitions' first attempt raises

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        missing = [k for k in ("inputs", "output") if k not in data]
        if missing:
            raise ConfigError(f"missing config key(s): {', '.join(missing)}")
        cfg = cls(**data)
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path: str) -> JobConfig:
        import yaml

        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a mapping of keys")
        return cls.from_dict(data)

    def source_spec(self, source: str) -> SourceSpec:
        if source in self.generic:
            g = dict(self.generic[source])
            return SourceSpec(g.pop("format", "jsonl"), g.pop("text_field", "text"), g.pop("id_field", None))
        return BUILTIN[source]

    def validate(self) -> None:
        if not isinstance(self.inputs, dict) or not self.inputs:
            raise ConfigError("inputs: need at least one source -> [paths]")
        for source, paths in self.inputs.items():
            if source not in BUILTIN and source not in self.generic:
                raise ConfigError(
                    f"inputs.{source}: unknown source; use one of {sorted(BUILTIN)} or declare it in generic"
                )
            if isinstance(paths, str) or not paths:
                raise ConfigError(f"inputs.{source}: want a non-empty list of paths/globs")
        for name, g in self.generic.items():
            bad = set(g) - {"format", "text_field", "id_field"}
            if bad:
                raise ConfigError(f"generic.{name}: unknown key(s) {sorted(bad)}")
            if g.get("format", "jsonl") not in ("jsonl", "parquet"):
                raise ConfigError(
                    f"generic.{name}.format: want 'jsonl' or 'parquet', got {g.get('format')!r}"
                )
        if not isinstance(self.output, str) or not self.output:
            raise ConfigError("output: want a folder or s3://bucket/prefix")
        for key, low in (
            ("max_patches", 2),
            ("workers", 1),
            ("files_per_partition", 1),
            ("max_doc_chars", 1),
        ):
            value = getattr(self, key)
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{key}: want an integer >= {low}, got {value!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"max_retries: want an integer >= 0, got {self.max_retries!r}")
        if self.tokenizer != "byte" and not os.path.isfile(self.tokenizer):
            raise ConfigError(f"tokenizer: {self.tokenizer!r} is neither 'byte' nor a tokenizer.json file")
        if not str(self.compression).startswith(("zstd", "gz", "br", "bz2", "snappy")):
            raise ConfigError(f"compression: unsupported {self.compression!r}")

    def renderer_config(self):
        from pixelgpt.renderer import RendererConfig

        try:
            return RendererConfig(**{**self.renderer, "max_patches": self.max_patches})
        except TypeError as e:
            raise ConfigError(f"renderer: {e}") from None


@dataclass(frozen=True)
class PartitionSpec:
    name: str  # <source>-<5-digit index>
    source: str
    files: tuple[str, ...]


@dataclass
class PartitionResult:
    name: str
    index: str  # URI of the partition's index.json
    counts: dict[str, Any]
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


class InjectedFailure(RuntimeError):
    """Raised by the `fail_once` test hook."""


def worker_key(cfg: JobConfig) -> str:
    """What a worker's renderer and tokenizer depend on: workers with equal keys are interchangeable."""
    tok = cfg.tokenizer
    if tok != "byte":
        st = os.stat(tok)
        tok = f"{os.path.abspath(tok)}:{st.st_size}:{st.st_mtime_ns}"
    return json.dumps([cfg.renderer, cfg.max_patches, tok], sort_keys=True, default=str)


class PartitionRenderer:
    """What one worker holds: a Renderer and a tokenizer, built once, used for many partitions."""

    def __init__(self, cfg: JobConfig):
        from pixelgpt.renderer import Renderer

        self.cfg = cfg
        self.renderer = Renderer(cfg.renderer_config())
        self.tokenizer = load_tokenizer(cfg.tokenizer)

    def render_doc(self, doc: Doc, max_doc_chars: int | None = None) -> list[schema.Sample]:
        """All chunks of one document, or a ValueError whose message is the reject reason."""
        limit = max_doc_chars or self.cfg.max_doc_chars
        if not doc.text.strip():
            raise ValueError("empty" if not doc.text else "whitespace only")
        if len(doc.text) > limit:
            raise ValueError(f"too long: {len(doc.text)} characters > max_doc_chars {limit}")
        text = normalize(doc.text)
        if not text:
            raise ValueError("empty after normalisation")
        r = self.renderer
        try:
            spans = chunk_spans(text, r.measure, r.char_extents, self.cfg.max_patches)
        except ChunkError as e:
            raise ValueError(f"unchunkable: {e}") from None
        samples = []
        for k, (s, e) in enumerate(spans):
            chunk = text[s:e]
            enc = r.render(chunk)
            if enc.patches.shape[0] > self.cfg.max_patches:
                raise ValueError(
                    f"render: chunk {k} has {enc.patches.shape[0]} patches > {self.cfg.max_patches}"
                )
            ids, offsets = self.tokenizer.encode(chunk)
            if len(ids) == 0:
                raise ValueError(f"tokenizer: chunk {k} has no tokens")
            samples.append(
                schema.Sample(
                    patches=enc.patches,
                    tokens=ids,
                    token_patches=token_patches(offsets, enc.char_patches),
                    text=chunk,
                    source=doc.source,
                    doc_id=doc.doc_id,
                    chunk=k,
                )
            )
        return samples

    def render_partition(self, spec: PartitionSpec, attempt: int = 0, cfg: JobConfig | None = None):
        """Read, chunk, tokenize, render and write one partition; `cfg` (default: the one this worker was
        built with) must have the same worker_key. Returns a PartitionResult once index.json is written."""
        cfg = cfg or self.cfg
        if worker_key(cfg) != worker_key(self.cfg):
            raise ValueError("render_partition: cfg needs another renderer/tokenizer than this worker holds")
        t0 = time.perf_counter()
        counts: Counter = Counter()
        reasons: Counter = Counter()
        rejects: list[dict] = []
        source_spec = cfg.source_spec(spec.source)
        with tempfile.TemporaryDirectory(prefix="pixelgpt-dl-") as scratch:
            out = writer.open_writer(
                cfg.output,
                spec.name,
                size_limit=cfg.size_limit,
                compression=cfg.compression,
                staging=cfg.staging,
            )
            with out:
                for uri in spec.files:
                    for item in read_source(uri, spec.source, source_spec, scratch, cfg.langs):
                        if isinstance(item, Reject):
                            reject = item
                        else:
                            try:
                                samples = self.render_doc(item, cfg.max_doc_chars)
                            except ValueError as e:
                                reject = Reject(item.doc_id, item.source, item.file, str(e))
                            else:
                                for sample in samples:
                                    out.write(schema.encode_sample(sample))
                                    counts["patches"] += sample.num_patches
                                    counts["tokens"] += len(sample.tokens)
                                counts["chunks"] += len(samples)
                                counts["documents"] += 1
                                counts["rendered"] += 1
                                if attempt == 0 and spec.name in cfg.fail_once and counts["rendered"] == 2:
                                    raise InjectedFailure(f"{spec.name}: injected failure (fail_once)")
                                continue
                        counts["documents"] += 1
                        counts["rejected"] += 1
                        reasons[reject.reason.split(":")[0]] += 1
                        rejects.append(reject.to_dict())
                stats = {
                    **{
                        k: int(counts[k])
                        for k in ("documents", "rendered", "rejected", "chunks", "patches", "tokens")
                    },
                    "rejects": dict(sorted(reasons.items())),
                    "fingerprint": partition_fingerprint(cfg, spec),
                }
                writer.write_rejects(cfg.output, spec.name, rejects)
                writer.write_partition_stats(cfg.output, spec.name, stats)
            # leaving the `with` wrote (and uploaded) index.json: the partition is complete
        stats["seconds"] = time.perf_counter() - t0
        return PartitionResult(spec.name, writer.index_uri(cfg.output, spec.name), stats)


def render_partition(
    spec: PartitionSpec, cfg: JobConfig, worker: PartitionRenderer | None = None, attempt: int = 0
):
    """One partition in this process (builds a renderer unless one is given)."""
    return (worker or PartitionRenderer(cfg)).render_partition(spec, attempt)


@functools.lru_cache(maxsize=8)
def tokenizer_fingerprint(tokenizer: str) -> str:
    """Loaded once per process: a resumed job checks every complete partition against it."""
    return load_tokenizer(tokenizer).fingerprint()


def partition_fingerprint(cfg: JobConfig, spec: PartitionSpec) -> str:
    """Everything a partition's bytes depend on: a re-run may only skip partitions with the same one."""
    tok = tokenizer_fingerprint(cfg.tokenizer)
    parts = [cfg.renderer, cfg.max_patches, tok, cfg.compression, str(cfg.size_limit), cfg.max_doc_chars]
    parts += [cfg.langs, cfg.generic.get(spec.source), spec.source, list(spec.files)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def skipped_result(cfg: JobConfig, spec: PartitionSpec) -> PartitionResult:
    """The result of a partition an earlier run completed, after checking it was made with these settings."""
    counts = writer.read_partition_stats(cfg.output, spec.name)
    if counts.get("fingerprint") != partition_fingerprint(cfg, spec):
        raise ConfigError(
            f"output: {storage.join(cfg.output, spec.name)} was rendered with other settings or inputs; "
            "use a new output or delete it"
        )
    index = writer.index_uri(cfg.output, spec.name)
    return PartitionResult(spec.name, index, {**counts, "seconds": 0.0}, skipped=True)


@dataclass
class Summary:
    documents: int
    rendered: int
    rejected: int
    chunks: int
    patches: int
    tokens: int
    rejects: dict[str, int]
    partitions: int
    partitions_skipped: int
    raw_bytes: int  # uncompressed shard bytes
    stored_bytes: int  # bytes on disk / in the bucket
    seconds: float
    complete: bool  # False when stop_after ended the run early (nothing merged)

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
        lines = [
            f"partitions {self.partitions} ({self.partitions_skipped} already complete)"
            + ("" if self.complete else "  [stopped early: not merged]"),
            f"documents  {self.documents} = rendered {self.rendered} + rejected {self.rejected}",
            f"chunks {self.chunks}  patches {self.patches}  tokens {self.tokens}",
            "rejects    " + (", ".join(f"{k}: {v}" for k, v in self.rejects.items()) or "none"),
            f"bytes      raw {self.raw_bytes:,}  stored {self.stored_bytes:,}  ({ratio:.1f}x)",
            f"speed      {self.docs_per_s:.1f} docs/s  {self.patches_per_s:,.0f} patches/s"
            f"  ({self.seconds:.1f} s)",
        ]
        return "\n".join(lines)


def merge(
    cfg: JobConfig, plan: list[PartitionSpec], results: list[PartitionResult], seconds: float
) -> Summary:
    """Root index.json from the indexes of the finished partitions (all of the plan), then meta.json and
    stats.json beside them. Counts are sums of the partitions' own counts."""
    by_name = {r.name: r for r in results}
    missing = [s.name for s in plan if s.name not in by_name]
    if missing:
        raise RuntimeError(f"cannot merge: partitions not finished: {', '.join(missing)}")
    names = [s.name for s in plan]
    index = writer.merge_indexes(cfg.output, names)
    writer.write_json(storage.join(cfg.output, schema.INDEX_FILE), index)
    summary = _summarise(results, seconds, complete=True, index=index)
    tok = load_tokenizer(cfg.tokenizer)
    from pixelgpt.renderer import Renderer

    rcfg = cfg.renderer_config()
    counts = {
        k: getattr(summary, k) for k in ("documents", "rendered", "rejected", "chunks", "patches", "tokens")
    }
    meta = schema.make_meta(
        renderer=rcfg.to_dict(),
        fonts=Renderer(rcfg).font_hashes(),
        tokenizer=tok.describe(),
        partitions=names,
        counts=counts,
        rejects=summary.rejects,
    )
    storage.write_bytes(storage.join(cfg.output, schema.META_FILE), schema.meta_to_json(meta).encode())
    writer.write_json(storage.join(cfg.output, schema.STATS_FILE), summary.to_dict())
    return summary


def _summarise(results: list[PartitionResult], seconds: float, complete: bool, index: dict | None) -> Summary:
    total: Counter = Counter()
    reasons: Counter = Counter()
    for r in results:
        for k in ("documents", "rendered", "rejected", "chunks", "patches", "tokens"):
            total[k] += r.counts[k]
        reasons.update(r.counts["rejects"])
    raw, stored = writer.shard_bytes(index) if index else (0, 0)
    return Summary(
        **{k: int(total[k]) for k in ("documents", "rendered", "rejected", "chunks", "patches", "tokens")},
        rejects=dict(sorted(reasons.items())),
        partitions=len(results),
        partitions_skipped=sum(r.skipped for r in results),
        raw_bytes=raw,
        stored_bytes=stored,
        seconds=seconds,
        complete=complete,
    )


def _start_ray(cfg: JobConfig) -> bool:
    """Connect to a cluster (cfg.ray_address or $RAY_ADDRESS, as under `ray job submit`) or start a local Ray
    in this process. Returns True when this call started it (and so should shut it down)."""
    local = not (cfg.ray_address or os.environ.get("RAY_ADDRESS"))
    if local:
        ray_env_defaults()
    import ray

    if ray.is_initialized():
        return False
    if not local:
        ray.init(address=cfg.ray_address or os.environ["RAY_ADDRESS"], log_to_driver=False)
        return True
    ray.init(num_cpus=cfg.workers, include_dashboard=False, log_to_driver=False)
    return True


def ray_env_defaults() -> None:
    """Settings for a Ray started in this process: no usage stats, no token auth (else the first ray.init
    turns it on machine-wide), and no uv-run hook (else workers rebuild the venv under `uv run`; setup-notes
    §E)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import sys

    if "ray" in sys.modules and os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] == "0":
        from ray._private import ray_constants  # read once at import: follow the variable set late

        ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False


def run(cfg: JobConfig) -> Summary:
    """Render every incomplete partition on Ray renderer actors (one per worker, built once), retry failed
    partitions up to cfg.max_retries times, then merge. Missing inputs fail before Ray starts."""
    cfg.validate()
    t0 = time.perf_counter()
    plan = plan_partitions(cfg)
    results: list[PartitionResult] = []
    todo: list[PartitionSpec] = []
    for spec in plan:
        if writer.is_complete(cfg.output, spec.name):
            results.append(skipped_result(cfg, spec))
        else:
            todo.append(spec)
    if cfg.stop_after is not None:
        todo = todo[: cfg.stop_after]
    _log(
        cfg,
        f"{len(plan)} partitions: {len(results)} complete, {len(todo)} to render on {cfg.workers} workers",
    )
    if todo:
        started = _start_ray(cfg)
        import ray

        try:
            results += _render_on_ray(cfg, todo, ray)
        finally:
            if started:
                _ACTORS.clear()
                ray.shutdown()
    seconds = time.perf_counter() - t0
    if cfg.stop_after is not None and len(results) < len(plan):
        return _summarise(results, seconds, complete=False, index=None)
    summary = merge(cfg, plan, results, seconds)
    _log(cfg, summary.format())
    return summary


# Renderer actors outlive one run() while the caller keeps its Ray up (tests, bench, notebooks): a worker
# process pays ~10 s of imports (streaming pulls in torch and transformers) once, not once per run.
_ACTORS: dict[tuple[str, str], list] = {}


def _actors(cfg: JobConfig, n: int, ray) -> list:
    ctx = ray.get_runtime_context()  # node id: a new Ray (even with the same job id) never reuses dead actors
    key = (f"{ctx.get_node_id()}/{ctx.get_job_id()}", worker_key(cfg))
    for stale in [k for k in _ACTORS if k != key]:  # other settings: free their CPUs for the new workers
        for actor in _ACTORS.pop(stale):
            if stale[0] == key[0]:
                ray.kill(actor)
    pool = _ACTORS.setdefault(key, [])
    actor_cls = ray.remote(num_cpus=1, max_restarts=1)(PartitionRenderer)
    while len(pool) < n:
        pool.append(actor_cls.remote(cfg))
    return pool[:n]


def _render_on_ray(cfg: JobConfig, todo: list[PartitionSpec], ray) -> list[PartitionResult]:
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))  # more actors than CPUs would wait forever
    actors = _actors(cfg, min(cfg.workers, len(todo), cpus), ray)
    queue = [(spec, 0) for spec in todo]
    running: dict[Any, tuple[PartitionSpec, int, Any]] = {}
    free = list(actors)
    done: list[PartitionResult] = []
    while queue or running:
        while queue and free:
            spec, attempt = queue.pop(0)
            actor = free.pop(0)
            running[actor.render_partition.remote(spec, attempt, cfg)] = (spec, attempt, actor)
        ready, _ = ray.wait(list(running), num_returns=1)
        spec, attempt, actor = running.pop(ready[0])
        free.append(actor)
        try:
            result = ray.get(ready[0])
        except Exception as e:  # a failed task: retry the whole partition (it is rewritten from scratch)
            if attempt >= cfg.max_retries:
                raise RuntimeError(
                    f"partition {spec.name} failed {attempt + 1} times; last error: {e}"
                ) from e
            _log(cfg, f"{spec.name}: attempt {attempt + 1} failed ({type(e).__name__}); retrying")
            queue.append((spec, attempt + 1))
            continue
        done.append(result)
        c = result.counts
        _log(
            cfg,
            f"[{len(done)}/{len(todo)}] {spec.name}: {c['documents']} docs, {c['chunks']} chunks, "
            f"{c['patches']} patches, {c['rejected']} rejected, {c['seconds']:.1f} s",
        )
    return done


def _log(cfg: JobConfig, msg: str) -> None:
    if cfg.progress:
        print(msg, flush=True)


__all__ = [
    "ConfigError",
    "JobConfig",
    "PartitionRenderer",
    "PartitionResult",
    "PartitionSpec",
    "Summary",
    "merge",
    "plan_partitions",
    "render_partition",
    "run",
]
