"""Trainer overhead and input pipeline headroom, measured in one run on this machine.

1. Step time of the Composer trainer vs a bare PyTorch loop: the same model, initialisation, batches (the same
   StreamingDataset + collation), modality mixture, AdamW, gradient clipping and LR schedule. Target <= 1.10x.
2. DataLoader samples/s (StreamingDataset -> decode -> collate, no model) vs the samples/s a training step
   consumes, unpacked and packed (data.packing: the collator packs each view into rows, the step trains
   them). Target >= 5x.

    uv run python bench/train.py [--steps 30] [--batch 8] [--workers 0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

import torch  # noqa: E402
from composer.core import Callback  # noqa: E402

from pixelgpt.model import PixelTextGPT  # noqa: E402
from pixelgpt.train.builders import build_optimizer  # noqa: E402
from pixelgpt.train.config import load_config  # noqa: E402
from pixelgpt.train.micro_batches import select_modality  # noqa: E402
from pixelgpt.train.mixture import Mixture  # noqa: E402
from pixelgpt.train.trainer import build_dataloader, mixture_weights, model_config, train  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_shards(out: str) -> None:
    """The pipeline's code in this process (no Ray) on the embedded sample corpus."""
    from pixelgpt.dataset.job import JobConfig
    from pixelgpt.dataset.partition import PartitionWorker, plan_partitions
    from pixelgpt.dataset.samples import sample_inputs
    from pixelgpt.dataset.summary import merge

    cfg = JobConfig(
        inputs=sample_inputs(), output=out, max_patches=96, max_tokens=256, workers=1, progress=False
    )
    plan = plan_partitions(cfg)
    worker = PartitionWorker(cfg)
    merge(cfg, plan, [worker.render(spec) for spec in plan], time.perf_counter())


class StepTimer(Callback):
    """Wall time of each step, from the end of the previous one (data loading included)."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def fit_start(self, state, logger) -> None:
        self.ends = [time.perf_counter()]

    def batch_end(self, state, logger) -> None:
        self.ends.append(time.perf_counter())


def composer_steps(cfg, warmup: int) -> list[float]:
    timer = StepTimer()
    train(cfg, callbacks=[timer])
    return [b - a for a, b in zip(timer.ends, timer.ends[1:])][warmup:]


def bare_steps(cfg, steps: int, warmup: int) -> list[float]:
    """The same training step written directly against PyTorch."""
    from composer.utils import reproducibility

    reproducibility.seed_all(cfg.seed)
    dataset, loader = build_dataloader(cfg, cfg.global_batch_size)
    model = PixelTextGPT(model_config(cfg, dataset.tokenizer))
    opt = build_optimizer(model, cfg.optimizer)
    warm = int(cfg.scheduler.warmup.removesuffix("ba"))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    mix = Mixture(mixture_weights(cfg), seed=cfg.seed)
    times, step, last = [], 0, time.perf_counter()
    while step < steps:
        for batch in loader:
            out = model(**select_modality(batch, mix.modality(step)))
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optimizer.grad_clip)
            opt.step()
            sched.step()
            now = time.perf_counter()
            times.append(now - last)
            last, step = now, step + 1
            if step == steps:
                break
    dataset.release()
    return times[warmup:]


def loader_rate(cfg, batches: int) -> float:
    dataset, loader = build_dataloader(cfg, cfg.global_batch_size)
    n, t0 = 0, None
    while n < batches:
        for i, _ in enumerate(loader):
            if t0 is None and i == 1:  # after the first batch: shards downloaded, workers up
                t0 = time.perf_counter()
            elif t0 is not None:
                n += 1
            if n >= batches:
                break
    rate = n * cfg.global_batch_size / (time.perf_counter() - t0)
    dataset.release()
    return rate


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--variant", default="dualgpt")
    ap.add_argument(
        "--model",
        default="{n_layer: 4, d_model: 256, n_head: 4, n_kv_head: 2, d_ff: 768}",
        help="YAML mapping of ModelConfig fields over the tiny preset (the default: a 4-layer d256 model)",
    )
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    root = tempfile.mkdtemp(prefix="bench-train-")
    try:
        shards = os.path.join(root, "shards")
        make_shards(shards)
        overrides = [
            f"data.shards=[{{path: {shards}}}]",
            f"data.cache={root}/cache/{{run_name}}",
            f"output_dir={root}/runs/{{run_name}}",
            "save_folder=null",
            "rollouts=0",
            "logging.tensorboard=false",
            "logging.file=false",
            "logging.console_interval=1000ba",
            f"max_duration={args.steps}ba",
            f"global_batch_size={args.batch}",
            f"data.num_workers={args.workers}",
            "data.pad_to_max=true",  # fixed shapes: both loops do exactly the same work per step
            "scheduler.name=constant",
            f"model={{preset: tiny, {args.model.strip().strip('{}')}}}",
        ]
        cfg = load_config(os.path.join(REPO, "yamls", "tiny", f"{args.variant}.yaml"), overrides)
        packed = load_config(
            os.path.join(REPO, "yamls", "tiny", f"{args.variant}.yaml"), [*overrides, "data.packing=true"]
        )
        # alternate the two loops twice, so drift of a shared machine shows up in the numbers
        bare = median(bare_steps(cfg, args.steps, args.warmup))
        comp = median(composer_steps(cfg, args.warmup))
        bare2 = median(bare_steps(cfg, args.steps, args.warmup))
        comp2 = median(composer_steps(cfg, args.warmup))
        rate = loader_rate(cfg, batches=40)
        consume = args.batch / min(comp, comp2)
        comp_packed = median(composer_steps(packed, args.warmup))
        rate_packed = loader_rate(packed, batches=40)
        consume_packed = args.batch / comp_packed
        d = cfg.data
        print(f"\ntrain bench: {args.variant}, model {args.model}, batch {args.batch}, {d.max_tokens} tokens/"
              f"{d.max_patches} patches per row, {args.steps} steps ({args.warmup} warm-up), "
              f"{torch.get_num_threads()} threads, workers {args.workers}\n")  # fmt: skip
        print("| measure | value | ratio | target |")
        print("|---|---|---|---|")
        print(f"| bare PyTorch step (2 runs) | {1000 * bare:.1f} ms / {1000 * bare2:.1f} ms | | |")
        ratio = min(comp, comp2) / min(bare, bare2)
        runs = f"{1000 * comp:.1f} ms / {1000 * comp2:.1f} ms"
        print(f"| Composer step (2 runs) | {runs} | {ratio:.2f}x bare (best of each) | <= 1.10x |")
        print(f"| dataloader | {rate:,.0f} samples/s | {rate / consume:.1f}x the step's use | >= 5x |")
        print(f"| training consumes | {consume:,.0f} samples/s | | |")
        print(f"| Composer step, packed rows | {1000 * comp_packed:.1f} ms | | |")
        rel = rate_packed / consume_packed
        print(f"| dataloader, packed | {rate_packed:,.0f} samples/s | {rel:.1f}x the step's use | >= 5x |")
        print(f"| training consumes, packed | {consume_packed:,.0f} samples/s | | |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
