"""Sweeps: one command runs a task's grid (learning rate x grad_accum x seed) and picks the best run on
validation.

    python -m pixelgpt.finetune.sweep yamls/finetune/dualgpt/rte-pair.yaml init_from=EXPORT data.path=DATA \
        [sweep.lr=[1e-5,3e-5] sweep.grad_accum=[1,2] sweep.seed=[42] ...] [--ray]

The grid comes from the yaml's `sweep:` section (the released scripts' loops), overridable like any key; an
empty list keeps the run's own value. Each grid point is a normal fine-tuning run in <sweep_dir>/<point>/
(sweep_dir = sweep.output_dir, default <output_dir>/sweep). A run is finished when its metrics.json exists, so
a stopped sweep resumes by running the same command again: finished runs are read, not redone; an unfinished
run starts over. <sweep_dir>/sweep.json records the grid, each run's selection value and the best run.

Sequential (default): the runs one after another in this process (under `composer -n N` every run uses all N
processes). --ray: each run is a Ray task holding one accelerator (one CPU with device=cpu) on the cluster
that `ray.init()` finds (RAY_ADDRESS), or on a local one.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import os
import shutil
import sys
import traceback
from typing import Any

from pixelgpt.finetune.config import ConfigError, FinetuneConfig, from_raw, load_raw

SWEEP_FILE = "sweep.json"
METRICS_FILE = "metrics.json"  # the trainer's; repeated here so planning a sweep imports no torch


def grid(cfg: FinetuneConfig) -> list[dict[str, Any]]:
    """Every grid point as {lr, grad_accum, seed}, in a fixed order (lr slowest)."""
    sweep = cfg.sweep
    lrs = (sweep.lr if sweep else None) or [cfg.optimizer.lr]
    gas = (sweep.grad_accum if sweep else None) or [cfg.grad_accum]
    seeds = (sweep.seed if sweep else None) or [cfg.seed]
    return [{"lr": lr, "grad_accum": ga, "seed": s} for lr, ga, s in itertools.product(lrs, gas, seeds)]


def point_name(point: dict[str, Any]) -> str:
    return f"lr{point['lr']:g}-ga{point['grad_accum']}-seed{point['seed']}"


def sweep_dir(cfg: FinetuneConfig) -> str:
    if cfg.sweep is not None and cfg.sweep.output_dir:
        return cfg.resolved(cfg.sweep.output_dir)
    return os.path.join(cfg.resolved(cfg.output_dir), "sweep")


def point_raw(raw: dict, cfg: FinetuneConfig, point: dict[str, Any], root: str) -> dict:
    """The raw config of one grid point: the sweep's, with its values, its own folder and no sweep section."""
    out = copy.deepcopy(raw)
    out.pop("sweep", None)
    out.setdefault("optimizer", {})["lr"] = point["lr"]
    out["grad_accum"] = point["grad_accum"]
    out["seed"] = point["seed"]
    out["run_name"] = f"{cfg.name}-{point_name(point)}"
    out["output_dir"] = os.path.join(root, point_name(point))
    return out


def read_metrics(run_dir: str) -> dict | None:
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def selection_value(metrics: dict) -> float:
    value = metrics["validation"].get(metrics["select_split"], {}).get(metrics["select_metric"], math.nan)
    return value if isinstance(value, (int, float)) and math.isfinite(value) else -math.inf


def summarize(cfg: FinetuneConfig, root: str, points: list[dict], records: dict[str, dict]) -> dict:
    """sweep.json: the grid, every run, and the best finished run (ties: the earlier grid point)."""
    runs, best = [], None
    for point in points:
        name = point_name(point)
        rec = {
            "name": name,
            **point,
            "dir": os.path.join(root, name),
            **records.get(name, {"status": "pending"}),
        }
        runs.append(rec)
        if rec["status"] == "done" and (best is None or rec["value"] > best["value"]):
            best = rec
    return {
        "task": cfg.task,
        "modality": cfg.modality,
        "model": cfg.model,
        "grid": {k: sorted({p[k] for p in points}) for k in ("lr", "grad_accum", "seed")},
        "runs": runs,
        "best": best,
    }


def record_of(metrics: dict) -> dict:
    return {
        "status": "done",
        "value": selection_value(metrics),
        "select": f"{metrics['select_split']}/{metrics['select_metric']}",
        "best_step": metrics.get("best_step"),
        "validation": metrics.get("validation", {}),
    }


def write_summary(root: str, summary: dict) -> None:
    os.makedirs(root, exist_ok=True)
    tmp = os.path.join(root, SWEEP_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(root, SWEEP_FILE))


def run_point(raw: dict) -> dict:
    """One grid point, start to finish (in this process or a Ray worker). Returns its metrics.json content."""
    from pixelgpt.finetune.trainer import finetune

    cfg = from_raw(raw)
    shutil.rmtree(cfg.resolved(cfg.output_dir), ignore_errors=True)  # an unfinished run starts over
    return finetune(cfg)


def run_sweep(raw: dict, use_ray: bool = False) -> dict:
    """Run (or resume) the sweep of the raw config; returns the sweep.json content."""
    cfg = from_raw(raw)
    root = sweep_dir(cfg)
    points = grid(cfg)
    raws = {point_name(p): point_raw(raw, cfg, p, root) for p in points}
    for r in raws.values():
        from_raw(r)  # every grid point is a valid config before anything runs
    records: dict[str, dict] = {}
    todo = []
    for p in points:
        name = point_name(p)
        done = read_metrics(os.path.join(root, name))
        if done is not None:
            records[name] = record_of(done)
        else:
            todo.append(name)
    finished = len(points) - len(todo)
    print(
        f"sweep {cfg.name}: {len(points)} runs in {root} ({finished} finished, {len(todo)} to run)",
        flush=True,
    )
    write_summary(root, summarize(cfg, root, points, records))
    if use_ray:
        _run_ray(cfg, raws, todo, records, lambda: write_summary(root, summarize(cfg, root, points, records)))
    else:
        _run_sequential(
            raws, todo, records, lambda: write_summary(root, summarize(cfg, root, points, records))
        )
    summary = summarize(cfg, root, points, records)
    if _is_rank0():
        write_summary(root, summary)
        print(format_summary(summary), flush=True)
    return summary


def _is_rank0() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _run_sequential(raws: dict[str, dict], todo: list[str], records: dict, save) -> None:
    from pixelgpt.finetune.tasks import FinetuneError

    for i, name in enumerate(todo):
        print(f"\n== sweep run {i + 1}/{len(todo)}: {name}", flush=True)
        try:
            records[name] = record_of(run_point(raws[name]))
        except (ConfigError, FinetuneError):
            raise  # a user error would fail every run alike
        except Exception as e:  # a diverged or crashed run: record it, go on with the grid
            traceback.print_exc()
            records[name] = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
        if _is_rank0():
            save()


def _run_ray(cfg: FinetuneConfig, raws: dict[str, dict], todo: list[str], records: dict, save) -> None:
    # As the Makefile and the render job do: Ray must not rebuild the uv environment in every worker
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=True)
    resources = {"num_gpus": 1} if cfg.device == "gpu" else {"num_cpus": 1}
    remote = ray.remote(max_retries=0, **resources)(run_point)
    pending = {remote.remote(raws[name]): name for name in todo}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        name = pending.pop(ready[0])
        try:
            records[name] = record_of(ray.get(ready[0]))
        except Exception as e:
            records[name] = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
        print(f"sweep run {name}: {records[name]['status']}", flush=True)
        save()


def format_summary(summary: dict) -> str:
    lines = [
        "",
        "| run | lr | grad_accum | seed | status | selection value |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for r in summary["runs"]:
        value = f"{r['value']:.4f}" if r["status"] == "done" else ""
        lines.append(
            f"| {r['name']} | {r['lr']:g} | {r['grad_accum']} | {r['seed']} | {r['status']} | {value} |"
        )
    best = summary["best"]
    if best is None:
        lines.append("\nbest: none finished")
    else:
        lines.append(f"\nbest: {best['name']} ({best['select']} {best['value']:.4f}) in {best['dir']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pixelgpt.finetune.sweep", description=__doc__.splitlines()[0]
    )
    ap.add_argument("config", help="yamls/finetune/<model>/<task>-<modality>.yaml")
    ap.add_argument("overrides", nargs="*", help="key=value (e.g. init_from=..., sweep.lr=[1e-5,3e-5])")
    ap.add_argument(
        "--ray", action="store_true", help="run the grid points as Ray tasks, one accelerator each"
    )
    args = ap.parse_args(argv)
    from pixelgpt.finetune.tasks import FinetuneError

    try:
        raw = load_raw(args.config, args.overrides)
        run_sweep(raw, use_ray=args.ray)
    except (ConfigError, FinetuneError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
