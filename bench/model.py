"""Forward+backward throughput of PixelTextGPT on CPU: tiny() and a mid config, fp32 vs bf16 autocast,
SDPA vs the naive attention. Prints a markdown table; every ratio comes from this one run.

The four variants of one (config, modality) run round-robin, one step each per round, and each reports its
best step: on a shared machine that is the least noisy estimate, and contention hits all variants alike.

    uv run python bench/model.py [--steps 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from pixelgpt.model import ModelConfig, PixelTextGPT

CONFIGS = {
    "tiny": (ModelConfig.tiny(), 8, 128),  # (config, batch, positions per row)
    "mid": (ModelConfig(n_layer=4, d_model=512, n_head=8, n_kv_head=4, d_ff=1408, vocab_size=32000), 2, 256),
}


def inputs(modality: str, cfg: ModelConfig, batch: int, length: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if modality == "text":
        return {"input_ids": torch.randint(0, cfg.vocab_size, (batch, length), generator=g)}
    return {"patches": torch.randint(0, 256, (batch, length, 16, 16, 3), generator=g, dtype=torch.uint8)}


def make_step(cfg: ModelConfig, x: dict[str, torch.Tensor], dtype: str):
    torch.manual_seed(0)
    model = PixelTextGPT(cfg)

    def step() -> float:
        start = time.perf_counter()
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()
        with ctx:
            loss = model(**x).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="1 = stable ratios on a shared machine")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, best of {args.steps} steps after 1 warm-up\n")
    print("| config | batch x len | modality | dtype | attention | positions/s | vs fp32 sdpa |")
    print("|---|---|---|---|---|---:|---:|")
    for name, (base, batch, length) in CONFIGS.items():
        for modality in ("text", "pixel"):
            x = inputs(modality, base, batch, length)
            variants = [(dtype, attention) for dtype in ("fp32", "bf16") for attention in ("sdpa", "naive")]
            steps = {}
            for dtype, attention in variants:
                cfg = ModelConfig.from_dict({**base.to_dict(), "attention": attention})
                steps[(dtype, attention)] = make_step(cfg, x, dtype)
            for step in steps.values():
                step()  # warm-up
            best = {v: steps[v]() for v in variants}
            for _ in range(args.steps - 1):
                for v in variants:
                    best[v] = min(best[v], steps[v]())
            baseline = batch * length / best[variants[0]]
            for dtype, attention in variants:
                rate = batch * length / best[(dtype, attention)]
                print(f"| {name} | {batch} x {length} | {modality} | {dtype} | {attention} | {rate:,.0f} | "
                      f"{rate / baseline:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
