"""What a training step computes and how much of it is real content: unpacked rows (one sample per row,
right-padded to the batch's longest) vs packed rows (several samples per row, dataset.collate), for TextGPT's
text rows, PixelGPT's patch rows and DualGPT's pair rows, one model for all three (equal parameters).

1. Real-content share of the computed positions on two corpora, both rendered by the render job's own code in
   this process at the paper's budgets (1,024 patches, 1,024 tokens, byte tokens): the embedded sample corpus
   and a generated corpus of short documents (C4-like lengths: lognormal, median ~400 words). Target >= 0.97
   packed.
2. The step on the CPU (small config; read the ratios): a per-device batch through all its micro-batches,
   forward + backward: step time, positions/s, real positions/s, activation memory (bytes saved for the
   backward pass), FLOPs per real position (torch's FlopCounterMode: what was computed, padding included).
3. With CUDA: the paper config on the GPU, bf16 autocast, eager vs compiled blocks, packed rows through
   FlexAttention: the same columns with peak memory and MFU (useful FLOPs: real positions x the model's
   per-position figure). Skipped without CUDA.
4. The storage bandwidth a node needs to feed the paper config.

    uv run python bench/efficiency.py [--batch 512] [--step-batch 32] [--micro 8] [--threads 2] [--docs 480]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import tempfile
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from pixelgpt.dataset.collate import Collator  # noqa: E402
from pixelgpt.model import ModelConfig, PixelTextGPT  # noqa: E402
from pixelgpt.train.micro_batches import split_packed  # noqa: E402

MAX_TOKENS = MAX_PATCHES = 1024  # the paper's row budgets
VIEWS = {"text": "TextGPT text rows", "image": "PixelGPT patch rows", "pair": "DualGPT pair rows"}
STORED_BYTES_PER_PATCH = 25.0  # MDS zstd:3, grey chunks as one channel (README, storage table)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 FLOP/s


# --------------------------------------------------------------------------------------------- corpora


def render(inputs: dict[str, list[str]], out: str) -> list[dict]:
    """The render job's code in this process (plan -> render each partition -> merge), then the samples."""
    from streaming import StreamingDataset

    from pixelgpt.dataset import schema
    from pixelgpt.dataset.job import JobConfig
    from pixelgpt.dataset.partition import PartitionWorker, plan_partitions
    from pixelgpt.dataset.summary import merge

    cfg = JobConfig(
        inputs=inputs, output=out, max_patches=MAX_PATCHES, max_tokens=MAX_TOKENS, workers=1, progress=False
    )
    plan = plan_partitions(cfg)
    worker = PartitionWorker(cfg)
    merge(cfg, plan, [worker.render(spec) for spec in plan], time.perf_counter())
    read = StreamingDataset(remote=out, local=out + "-read", shuffle=False)
    samples = []
    for i in range(read.num_samples):
        s = schema.decode_sample(read[i])
        samples.append({"patches": np.ascontiguousarray(s.patches), "tokens": np.asarray(s.tokens)})
    del read
    return samples


def short_documents(folder: str, docs: int, seed: int = 0) -> dict[str, list[str]]:
    """A C4-format file of `docs` documents of lognormal length (median 400 words, sigma 0.8, 30..4,000
    words), sentences of random words of the embedded corpus' vocabulary."""
    from pixelgpt.dataset.samples import sample_inputs

    words = []
    for path in sample_inputs()["c4"]:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            words += [w for line in f for w in json.loads(line)["text"].split() if w.isalpha()]
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(400), 0.8, docs), 30, 4000).astype(int)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "c4-train.00000-of-00001.json.gz")
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i, n in enumerate(lengths):
            picked = rng.choice(words, n)
            sentences = [" ".join(picked[j : j + 15]).capitalize() + "." for j in range(0, n, 15)]
            paras = ["  ".join(sentences[j : j + 6]) for j in range(0, len(sentences), 6)]
            doc = {"text": "\n\n".join(paras), "timestamp": "2019-04-25T12:00:00Z", "url": f"https://e.x/{i}"}
            f.write(json.dumps(doc) + "\n")
    return {"c4": [path]}


def synthetic_samples(count: int, seed: int = 0) -> list[dict]:
    """Samples of random content with lengths like rendered chunks: strips of lognormal length (median 500
    patches, up to 1,024), about as many tokens."""
    rng = np.random.default_rng(seed)
    n = np.clip(rng.lognormal(np.log(500), 0.6, count), 8, MAX_PATCHES).astype(int)
    t = np.clip(n * rng.uniform(0.8, 1.2, count), 2, MAX_TOKENS).astype(int)
    return [
        {"patches": rng.integers(0, 256, (a, 16, 16, 3), dtype=np.uint8), "tokens": rng.integers(0, 500, b)}
        for a, b in zip(n, t)
    ]


def batches(samples: list[dict], size: int, seed: int = 0) -> list[list[dict]]:
    """Shuffled (as the streaming loader shuffles) per-device batches of `size` samples, the rest dropped; a
    corpus smaller than one batch is one batch."""
    order = np.random.default_rng(seed).permutation(len(samples))
    size = min(size, len(samples))
    return [[samples[i] for i in order[j : j + size]] for j in range(0, len(order) - size + 1, size)]


# --------------------------------------------------------------------------------------------- shares


def real_and_computed(view: dict) -> tuple[int, int]:
    """(real, computed) positions of a batch: a packed pair row holds both kinds in its L positions, an
    unpacked pair row is [patches][tokens]."""
    masks = [view[k].bool() for k in ("attention_mask", "patch_mask") if k in view]
    if len(masks) == 2 and "positions" in view:
        return int((masks[0] | masks[1]).sum()), masks[0].numel()
    return sum(int(m.sum()) for m in masks), sum(m.numel() for m in masks)


def unpacked_view(batch: dict, view: str) -> dict:
    keys = {"text": ("input_ids", "attention_mask"), "image": ("patches", "patch_mask")}.get(view)
    return {k: batch[k] for k in keys} if keys else dict(batch)


MODES = {0: "unpacked", 1: "packed x1", 4: "packed x4"}  # 0: one sample per row; k: rows of k budgets


def collate(group: list[dict], factor: int) -> dict:
    if factor == 0:
        return Collator(MAX_TOKENS, MAX_PATCHES)(group)
    return Collator(MAX_TOKENS, MAX_PATCHES, packing=True, row_factor=factor)(group)


def share_table(corpora: dict[str, list[dict]], size: int) -> list[str]:
    lines = [
        f"Real-content share of computed positions, per-device batches of {size} samples (the paper's "
        "4,096 / 8 GPUs). Unpacked: a sample per row, padded to the batch's longest; packed xk: rows of k "
        "budgets (text k x 1,024, image k x 1,024, pair k x 2,048 positions); x4 is data.packed_row_factor's "
        "default\n",
        "| corpus | samples | view | unpacked | packed x1 | packed x4 | rows unpacked / x1 / x4 | x4 ok |",
        "|---|---:|---|---:|---:|---:|---|---|",
    ]
    for name, samples in corpora.items():
        groups = batches(samples, size)
        for view in VIEWS:
            real, computed, rows = {f: 0 for f in MODES}, {f: 0 for f in MODES}, {f: 0 for f in MODES}
            for group in groups:
                for f in MODES:
                    v = unpacked_view(collate(group, f), view) if f == 0 else collate(group, f)[view]
                    r, c = real_and_computed(v)
                    real[f], computed[f] = real[f] + r, computed[f] + c
                    rows[f] += next(iter(v.values())).shape[0]
            share = {f: real[f] / computed[f] for f in MODES}
            cells = [name, str(sum(map(len, groups))), view, *(f"{share[f]:.3f}" for f in MODES)]
            cells += [" / ".join(str(rows[f]) for f in MODES), "yes" if share[4] >= 0.97 else "**no**"]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


# ----------------------------------------------------------------------------------------------- steps


def micro_batches(group: list[dict], view: str, micro: int, factor: int) -> list[dict]:
    """The micro-batches one step runs for `view` on this device batch, as the trainer cuts them."""
    if factor:
        parts = split_packed(collate(group, factor), [view] * (len(group) // micro))
        return [{k: v for k, v in p.items() if k != "samples"} for p in parts]
    batch = unpacked_view(collate(group, 0), view)
    return [{k: v[i : i + micro] for k, v in batch.items()} for i in range(0, len(group), micro)]


def step(model: PixelTextGPT, micro: list[dict], autocast) -> None:
    for mb in micro:
        with autocast():
            loss = model(**mb).loss
        loss.backward()
    model.zero_grad(set_to_none=True)


def activation_bytes(model: PixelTextGPT, micro: list[dict], autocast) -> int:
    """The largest micro-batch's tensors saved for the backward pass (unique storages): the activations."""
    peak = 0
    for mb in micro:
        seen: dict[int, int] = {}

        def pack(t: torch.Tensor, seen=seen) -> torch.Tensor:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast():
            loss = model(**mb).loss
        loss.backward()
        peak = max(peak, sum(seen.values()))
    model.zero_grad(set_to_none=True)
    return peak


def useful_flops(model: PixelTextGPT, micro: list[dict]) -> float:
    """What MFU counts: per real position the model's matmul FLOPs (6 x weights, with its modality's head),
    plus attention over each sample's own length n (n^2 per sample, forward + backward), padding and the
    scores across samples not counted. n^2 = sum over a sample's positions p of (2p + 1)."""
    per_context = model.flops_per_token(1) - model.flops_per_token(0)
    total = 0.0
    for mb in micro:
        for key, modality in (("attention_mask", "text"), ("patch_mask", "pixel")):
            if key in mb:
                total += model.flops_per_token(0, modality) * int(mb[key].sum())
        if "positions" in mb:
            real = sum(mb[k].bool().long() for k in ("attention_mask", "patch_mask") if k in mb)
            total += per_context * int(((2 * mb["positions"] + 1) * real).sum())
        else:  # a sample per row: its real positions (a pair's patches and tokens) in one sequence
            lengths = sum(mb[k].sum(dim=1) for k in ("attention_mask", "patch_mask") if k in mb)
            total += per_context * int((lengths**2).sum())
    return total


def measure(model, micro, autocast, sync, repeats: int) -> dict:
    real = sum(real_and_computed(mb)[0] for mb in micro)
    computed = sum(real_and_computed(mb)[1] for mb in micro)
    step(model, micro, autocast)  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        step(model, micro, autocast)
        sync()
        times.append(time.perf_counter() - t0)
    rows = sum(len(next(iter(m.values()))) for m in micro)
    return {"time": min(times), "real": real, "computed": computed, "rows": rows}


def attention_flops(cfg: ModelConfig, micro: list[dict]) -> float:
    """Attention FLOPs (scores and values, forward + backward = 3x forward) as a fused CPU kernel computes
    them: half the row's score matrix when causal, all of it under a mask (FlopCounterMode does not count
    the CPU kernels)."""
    total = 0.0
    for mb in micro:
        b, length = next(iter(mb.values())).shape[:2]
        pair = "patch_mask" in mb and "attention_mask" in mb
        if pair and "positions" not in mb:  # [patches][tokens]
            length = mb["patch_mask"].shape[1] + mb["attention_mask"].shape[1]
        masked = pair or "positions" in mb
        total += 3 * 4 * b * cfg.n_head * cfg.head_dim * length**2 * (1.0 if masked else 0.5) * cfg.n_layer
    return total


def cpu_table(samples: list[dict], vocab: int, size: int, micro: int, repeats: int) -> list[str]:
    torch.manual_seed(0)
    cfg = ModelConfig.tiny(vocab_size=vocab)
    model = PixelTextGPT(cfg)
    group = batches(samples, size)[0]
    lines = [
        f"CPU step: {cfg.n_layer} layers d {cfg.d_model} ({model.num_parameters():,} parameters), fp32, "
        f"{torch.get_num_threads()} threads; one per-device batch of {size} samples of the sample corpus in "
        f"{size // micro} micro-batches, forward + backward; the modes take turns, best of {repeats} each\n",
        "| view | rows | step ms | positions/s | real positions/s | activation MB | FLOPs / real position | "
        "real pos/s ÷ unpacked |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    nothing = contextlib.nullcontext
    for view in VIEWS:
        micro_of = {f: micro_batches(group, view, micro, f) for f in MODES}
        runs = {f: [] for f in MODES}
        for _ in range(repeats):  # round robin: a busy machine slows every mode alike
            for f in MODES:
                runs[f].append(measure(model, micro_of[f], nothing, lambda: None, 1))
        rates = {}
        for f, mb in micro_of.items():
            r = min(runs[f], key=lambda x: x["time"])
            with FlopCounterMode(display=False) as counter:
                step(model, mb, nothing)
            flops = counter.get_total_flops() + attention_flops(cfg, mb)
            rates[f] = r["real"] / r["time"]
            width = next(iter(mb[0].values())).shape[1]
            cells = [
                f"{view} {MODES[f]}",
                f"{r['rows']} x {width}",
                f"{1e3 * r['time']:.0f}",
                f"{r['computed'] / r['time']:,.0f}",
                f"{rates[f]:,.0f}",
                f"{activation_bytes(model, mb, nothing) / 2**20:.0f}",
                f"{flops / r['real'] / 1e6:.1f} M",
                f"{rates[f] / rates[0]:.2f}x",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def gpu_table(samples: list[dict], size: int, micro: int, repeats: int) -> list[str]:
    """The paper config on the GPU: eager vs compiled blocks, unpacked vs packed (FlexAttention)."""
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    torch.manual_seed(0)
    model = PixelTextGPT(ModelConfig.paper()).to(dev)
    group = batches(samples, size)[0]
    autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    lines = [
        f"GPU step: {name}, paper config ({model.num_parameters():,} parameters), bf16 autocast; one "
        f"per-device batch of {size} samples in {size // micro} micro-batches, forward + backward, best of "
        f"{repeats}; MFU against {peak / 1e12 if peak else '?'} TFLOP/s\n",
        "| mode | view | rows | step ms | positions/s | real positions/s | peak GiB | MFU |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    # correctness on the GPU first: FlexAttention (packed rows) and the dense mask give the same loss
    mb = {k: v.to(dev) for k, v in micro_batches(group, "pair", micro, 4)[0].items()}
    with torch.no_grad(), autocast():
        flex = model(**mb).loss
        model.packed_attention = "dense"
        dense = model(**mb).loss
        model.packed_attention = "auto"
    assert torch.isfinite(flex) and abs(flex.item() - dense.item()) < 2e-2 * abs(dense.item()), (flex, dense)
    torch._dynamo.config.cache_size_limit = 64  # every view and mode has its own shapes
    for mode in ("eager", "compiled blocks"):
        if mode != "eager":
            for block in model.blocks:
                block.forward = torch.compile(block.forward)
        for view in VIEWS:
            for factor in MODES:
                mbs = [
                    {k: v.to(dev) for k, v in m.items()} for m in micro_batches(group, view, micro, factor)
                ]
                torch.cuda.reset_peak_memory_stats()
                r = measure(model, mbs, autocast, torch.cuda.synchronize, repeats)
                mfu = useful_flops(model, mbs) / r["time"] / peak if peak else float("nan")
                kind = MODES[factor]
                lines.append(
                    f"| {mode} | {view} {kind} | {r['rows']} | {1e3 * r['time']:.0f} "
                    f"| {r['computed'] / r['time']:,.0f} | {r['real'] / r['time']:,.0f} | "
                    f"{torch.cuda.max_memory_allocated() / 2**30:.1f} | {mfu:.1%} |"
                )
    return lines


def bandwidth_lines(mfu: float = 0.40, peak: float = 989e12, gpus: int = 8) -> list[str]:
    """Patches/s one GPU consumes at `mfu` (PixelGPT rows, the paper config), and the bytes behind them."""
    cfg = ModelConfig.paper()
    with torch.device("meta"):
        model = PixelTextGPT(cfg)
    per_patch = model.flops_per_token(MAX_PATCHES, "pixel")
    patches = mfu * peak / per_patch
    stored, raw = patches * STORED_BYTES_PER_PATCH, patches * cfg.patch_dim
    return [
        f"Bandwidth at the paper config: {per_patch / 1e9:.2f} GFLOP per patch (forward + backward, rows of "
        f"1,024), {mfu:.0%} MFU of {peak / 1e12:.0f} TFLOP/s -> {patches:,.0f} patches/s per GPU; stored "
        f"{STORED_BYTES_PER_PATCH:.0f} B/patch -> {stored / 1e6:.1f} MB/s per GPU, "
        f"{gpus * stored / 1e6:.0f} MB/s per {gpus}-GPU node from storage; decompressed {cfg.patch_dim} "
        f"B/patch -> {raw / 1e6:.0f} MB/s per GPU, {gpus * raw / 1e9:.2f} GB/s per node through decode and "
        "collation (packed rows carry only real patches plus < 3% padding)."
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=512, help="per-device batch (samples) of the share table")
    ap.add_argument("--step-batch", type=int, default=32, help="per-device batch of the step tables")
    ap.add_argument("--micro", type=int, default=8, help="samples per micro-batch (device_microbatch_size)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--docs", type=int, default=480, help="documents of the short-document corpus")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = tempfile.mkdtemp(prefix="bench-efficiency-")
    try:
        t0 = time.perf_counter()
        try:
            from pixelgpt.dataset.samples import sample_inputs

            corpora = {
                "sample corpus": render(sample_inputs(), os.path.join(root, "sample")),
                "short documents": render(
                    short_documents(os.path.join(root, "docs"), args.docs), os.path.join(root, "short")
                ),
            }
        except (ImportError, OSError) as e:  # a bare GPU image without the renderer's libraries
            print(f"the render job cannot run here ({type(e).__name__}: {e}); synthetic lengths instead\n")
            corpora = {"synthetic": synthetic_samples(1024)}
        print(f"rendered {sum(map(len, corpora.values()))} samples in {time.perf_counter() - t0:.0f} s\n")
        for name, samples in corpora.items():
            p = np.array([len(s["patches"]) for s in samples])
            t = np.array([len(s["tokens"]) for s in samples])
            print(f"{name}: {len(samples)} samples; patches median {np.median(p):.0f} (max {p.max()}), "
                  f"tokens median {np.median(t):.0f} (max {t.max()})")  # fmt: skip
        print()
        print("\n".join(share_table(corpora, args.batch)), "\n")
        steps = next(iter(corpora.values()))  # the step tables run on the sample corpus
        vocab = max(512, 1 + max(int(s["tokens"].max()) for s in steps))
        print("\n".join(cpu_table(steps, vocab, args.step_batch, args.micro, args.repeats)), "\n")
        if torch.cuda.is_available():
            print("\n".join(gpu_table(steps, 64, 16, 3)), "\n")
        else:
            print("GPU step: skipped (no CUDA device)\n")
        print("\n".join(bandwidth_lines()))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
