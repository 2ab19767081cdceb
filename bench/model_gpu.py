"""Paper-size PixelTextGPT on one GPU: forward+backward+AdamW step throughput and MFU per modality,
bf16 autocast (fp32 master weights, as Composer's amp_bf16), eager vs torch.compile. Also checks, on the GPU,
that padding does not change the loss (the masked SDPA path) and that losses are finite.

    python bench/model_gpu.py [--batch 16] [--steps 10] [--peak-tflops 989] [--compile]

Needs only torch (the model package imports nothing else), so it runs on a bare GPU image with
PYTHONPATH=packages/model/src.
"""

from __future__ import annotations

import argparse
import time

import torch

from pixelgpt.model import ModelConfig, PixelTextGPT


def batch_for(modality: str, cfg: ModelConfig, b: int, n: int, device: str, pad: bool = False) -> dict:
    g = torch.Generator(device="cpu").manual_seed(0)
    x: dict[str, torch.Tensor] = {}
    if modality in ("pixel", "pair"):
        n_img = n if modality == "pixel" else n // 2
        x["patches"] = torch.randint(0, 256, (b, n_img, 16, 16, 3), generator=g, dtype=torch.uint8)
        mask = torch.ones(b, n_img, dtype=torch.long)
        if pad:
            mask[: b // 2, n_img * 3 // 4 :] = 0  # half the rows end early (pair: padding mid-sequence)
        x["patch_mask"] = mask
    if modality in ("text", "pair"):
        t = n if modality == "text" else n // 2
        x["input_ids"] = torch.randint(0, cfg.vocab_size, (b, t), generator=g)
        x["attention_mask"] = torch.ones(b, t, dtype=torch.long)
    return {k: v.to(device, non_blocking=True) for k, v in x.items()}


def timed_steps(model, opt, x: dict, steps: int) -> float:
    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(**x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):  # warm-up (and compilation)
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100/H200: 989)")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    dev = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(0)
    cfg = ModelConfig.paper()
    model = PixelTextGPT(cfg).to(dev)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, params {model.num_parameters():,}")

    # correctness on the GPU: changing padded patches changes nothing; losses are finite
    x = batch_for("pair", cfg, 4, 256, dev, pad=True)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        a = model(**x)
        y = dict(x)
        real = x["patch_mask"].bool()[..., None, None, None]
        y["patches"] = torch.where(real, x["patches"], 255 - x["patches"])
        b = model(**y)
    print(
        f"pair loss {a.loss.item():.5f} (text {a.text_loss.item():.4f}, pixel {a.pixel_loss.item():.4f}); "
        f"padding changed -> {b.loss.item():.5f}; equal: {torch.equal(a.loss, b.loss)}"
    )
    assert torch.isfinite(a.loss) and torch.equal(a.loss, b.loss)

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    print(f"\nbatch {args.batch} x {args.seq} positions, bf16 autocast, fused AdamW\n")
    print("| mode | modality | ms/step | positions/s | model TFLOP/s | MFU |")
    print("|---|---|---:|---:|---:|---:|")
    variants = [("eager", model)]
    if args.compile:
        variants.append(("compile", torch.compile(model)))
    for name, m in variants:
        for modality, pad in (("text", False), ("pixel", False), ("pixel", True), ("pair", True)):
            x = batch_for(modality, cfg, args.batch, args.seq, dev, pad=pad)
            dt = timed_steps(m, opt, x, args.steps)
            positions = args.batch * args.seq
            fpt = model.flops_per_token(args.seq, modality="text" if modality == "text" else "pixel")
            tflops = positions * fpt / dt / 1e12
            mod = modality + (" +pad" if pad else "")
            print(
                f"| {name} | {mod} | {dt * 1e3:.1f} | {positions / dt:,.0f} | {tflops:.0f} | "
                f"{tflops / args.peak_tflops:.1%} |",
                flush=True,
            )
    print(f"\npeak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
