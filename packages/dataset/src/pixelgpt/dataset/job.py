"""The render job on Ray: corpora -> partitions rendered by renderer actors -> one merged shard set.

    summary = run(JobConfig(inputs={"pes2o": ["data/*.json.gz"]}, output="s3://bucket/shards"))

The driver checks everything it can before Ray starts (config, tokenizer, renderer settings, inputs, output);
verifies which partitions an earlier run completed (index, stats and shards agree) and skips them; renders the
rest on one actor per worker (each holds a Renderer and a tokenizer, built once); retries a partition only
when its worker died or lost its connection (a deterministic error fails the job at once, naming the
partition); then merges. Re-running an interrupted job finishes it, and the set is byte-identical to an
uninterrupted run's. A Ray that the job starts in-process is stopped when the job ends, and by a watchdog if
the driver is killed.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pixelgpt.dataset.job_config import ConfigError, JobConfig
from pixelgpt.dataset.partition import (
    PartitionResult,
    PartitionSpec,
    PartitionWorker,
    completed,
    plan_partitions,
)
from pixelgpt.dataset.ray_env import apply_ray_env, start_watchdog, stop_watchdog
from pixelgpt.dataset.summary import Summary, merge, summarise

__all__ = ["ConfigError", "JobConfig", "JobError", "Summary", "run"]


class JobError(RuntimeError):
    """A partition failed for a reason that another attempt would not change; the message names it."""


def run(cfg: JobConfig, worker_cls: type[PartitionWorker] = PartitionWorker) -> Summary:
    """Render every incomplete partition on Ray, then merge. `worker_cls` is what each actor runs (tests
    pass a
    subclass that injects faults)."""
    t0 = time.perf_counter()
    cfg.validate()
    cfg.check_output()
    log = _Log(cfg.progress)
    log(f"output: {cfg.output}")
    plan = plan_partitions(cfg)
    results, todo = _split_done(cfg, plan, log)
    if cfg.stop_after is not None:
        todo = todo[: cfg.stop_after]
    log(f"{len(plan)} partitions: {len(results)} complete, {len(todo)} to render on {cfg.workers} workers")
    if todo:
        results += _render_on_ray(cfg, todo, worker_cls, log)
    if cfg.stop_after is not None and len(results) < len(plan):
        return summarise(cfg, results, time.perf_counter() - t0, complete=False, index=None)
    log(f"merging {len(plan)} partitions")
    summary = merge(cfg, plan, results, t0)
    log(summary.format())
    return summary


def _split_done(cfg: JobConfig, plan: list[PartitionSpec], log) -> tuple[list[PartitionResult], list]:
    """(results of partitions already complete, partitions to render). Checked concurrently: on S3 each check
    is a few requests."""
    with ThreadPoolExecutor(max_workers=16) as pool, log.bar(len(plan), "checking partitions") as bar:
        found = []
        for spec, result in zip(plan, pool.map(lambda s: completed(cfg, s), plan)):
            found.append((spec, result))
            bar.update(1)
    return [r for _, r in found if r is not None], [s for s, r in found if r is None]


# ---------------------------------------------------------------------------------------------------- Ray

# Renderer actors outlive one run() while the caller keeps its Ray up (tests, bench, notebooks): a worker
# process pays ~10 s of imports (streaming pulls in torch and transformers) once, not once per run.
_ACTORS: dict[tuple[str, str, type], list] = {}


def _render_on_ray(cfg: JobConfig, todo: list[PartitionSpec], worker_cls, log) -> list[PartitionResult]:
    apply_ray_env()
    import ray

    started = not ray.is_initialized()
    watchdog = None
    if started:
        address = cfg.ray_address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            context = ray.init(num_cpus=cfg.workers, include_dashboard=False, log_to_driver=False)
            watchdog = start_watchdog(context.address_info["session_dir"])
            log(f"ray: in-process, session {context.address_info['session_dir']}")
    try:
        return _schedule(cfg, todo, worker_cls, ray, log)
    finally:
        if started:
            _ACTORS.clear()
            ray.shutdown()
            if watchdog is not None:
                stop_watchdog(watchdog)


def _actors(cfg: JobConfig, n: int, worker_cls, ray) -> list:
    from pixelgpt.dataset.partition import worker_key

    ctx = ray.get_runtime_context()  # node id: a new Ray (even with the same job id) never reuses dead actors
    key = (f"{ctx.get_node_id()}/{ctx.get_job_id()}", worker_key(cfg), worker_cls)
    for stale in [k for k in _ACTORS if k != key]:  # other settings: free their CPUs for the new workers
        for actor in _ACTORS.pop(stale):
            if stale[0] == key[0]:
                ray.kill(actor)
    pool = _ACTORS.setdefault(key, [])
    actor_cls = ray.remote(num_cpus=1, max_restarts=1)(worker_cls)
    while len(pool) < n:
        pool.append(actor_cls.remote(cfg))
    return pool[:n]


def is_transient(error: BaseException) -> bool:
    """Whether another attempt may succeed: the worker, its node or its object died, or a network call
    failed. Anything else (bad input, a full disk, a bug) would fail the same way again."""
    import ray.exceptions as rex

    if isinstance(error, (rex.RayActorError, rex.WorkerCrashedError, rex.ObjectLostError, rex.NodeDiedError)):
        return True
    cause = getattr(error, "cause", None) or error
    if isinstance(cause, (ConnectionError, TimeoutError)):
        return True
    return type(cause).__name__ in {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    }


def _reason(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error
    return f"{type(cause).__name__}: {cause}".splitlines()[0]


def _worker_died(error: BaseException) -> bool:
    """Whether the actor itself is gone (its process, or its node, died): Ray restarts it (max_restarts) where
    a CPU is free, which may be never, so it gets no more partitions until it answers again."""
    import ray.exceptions as rex

    return isinstance(error, (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError))


# How long the job waits when no renderer actor is alive (all being restarted, e.g. every node with a free CPU
# died) before it fails; a cluster that adds nodes (KubeRay, the autoscaler) needs a few minutes.
RESTART_WAIT_S = 600.0


def _schedule(cfg: JobConfig, todo: list[PartitionSpec], worker_cls, ray, log) -> list[PartitionResult]:
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))  # more actors than CPUs would wait forever
    actors = _actors(cfg, min(cfg.workers, len(todo), cpus), worker_cls, ray)
    queue = [(spec, 0) for spec in todo]
    running: dict[Any, tuple[PartitionSpec, int, Any]] = {}
    # Actors whose worker died, by the ref of a probe call (node()): back among the free ones when it answers
    # (restarted), dropped when it fails (dead for good). Never given a partition meanwhile: a restart that
    # waits for a CPU would hold that partition while the live actors idle.
    probing: dict[Any, Any] = {}
    free = list(actors)
    done: list[PartitionResult] = []
    failure: JobError | None = None  # raised once the partitions still running have ended
    docs = patches = 0
    with log.bar(len(todo), "rendering", unit="partition") as bar:
        while queue or running:
            while queue and free:
                spec, attempt = queue.pop(0)
                actor = free.pop(0)
                running[actor.render.remote(spec, cfg)] = (spec, attempt, actor)
            if not running and not probing:
                raise JobError(f"no renderer worker left; {len(queue)} partitions not rendered")
            ready, _ = ray.wait(
                [*running, *probing], num_returns=1, timeout=None if running else RESTART_WAIT_S
            )
            if not ready:
                raise JobError(
                    f"no renderer worker alive for {RESTART_WAIT_S:.0f} s (all restarting, none placed); "
                    f"{len(queue)} partitions not rendered"
                )
            if ready[0] in probing:
                actor = probing.pop(ready[0])
                try:
                    node = ray.get(ready[0])
                except Exception:
                    _forget_actor(actor)
                    continue
                log.write(f"a renderer worker is back, on {node}")
                free.append(actor)
                continue
            spec, attempt, actor = running.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as e:
                if _worker_died(e):
                    probing[actor.node.remote()] = actor
                else:
                    free.append(actor)
                if failure is None and not is_transient(e):
                    failure = JobError(f"partition {spec.name}: {_reason(e)}")
                elif failure is None and attempt >= cfg.max_retries:
                    failure = JobError(
                        f"partition {spec.name} failed {attempt + 1} times; last: {_reason(e)}"
                    )
                if failure is not None:
                    queue.clear()  # start nothing new; let the partitions in flight end
                    continue
                log.write(f"{spec.name}: attempt {attempt + 1} failed ({_reason(e)}); retrying")
                queue.append((spec, attempt + 1))
                continue
            free.append(actor)
            done.append(result)
            c = result.counts
            docs, patches = docs + c["documents"], patches + c["patches"]
            bar.set_postfix_str(f"{docs:,} docs, {patches:,} patches", refresh=False)
            bar.update(1)
            log.write(
                f"[{len(done)}/{len(todo)}] {spec.name}: {c['documents']} docs, {c['chunks']} chunks, "
                f"{c['patches']} patches, {c['rejected']} rejected, {c['seconds']:.1f} s on {c.get('node')}"
            )
    if failure is not None:
        raise failure
    return done


def _forget_actor(actor) -> None:
    """Drop a dead actor from the pool kept for later runs of this process."""
    for pool in _ACTORS.values():
        if any(a is actor for a in pool):
            pool[:] = [a for a in pool if a is not actor]


class _Log:
    """Progress output: lines, and tqdm bars (documents, patches, ETA) when printing to a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(msg, flush=True)

    def write(self, msg: str) -> None:
        if self.enabled:
            from tqdm import tqdm

            tqdm.write(msg, file=sys.stdout)
            sys.stdout.flush()

    def bar(self, total: int, desc: str, unit: str = "it"):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, disable=not (self.enabled and sys.stderr.isatty()))
