"""Fine-tuning input throughput on a CPU: examples/s of training and of evaluation per modality, with strips
rendered on the fly vs decoded from pre-rendered PNGs (the released data's form), at the same batch and model.
Target: on-the-fly >= 0.8x pre-rendered.

The tiny model and the tiny task's sentence pairs. The pre-rendered strips are the renderer's own, stored as
PNGs as wide as the task length (the released data stores full-width strips) and decoded per example, like
readers.Example.pixels(). The inputs run round-robin, one batch each per round, and each reports its median
batch: contention on a shared machine hits them alike. Text input has no strips; its row is a reference.

    uv run python bench/finetune.py [--steps 12] [--batch 16] [--workers 0] [--patches 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from PIL import Image

from pixelgpt.dataset.tokenizers import ByteTokenizer
from pixelgpt.finetune.inputs import Collator, Encoder, FinetuneDataset, glue_strip_spaces
from pixelgpt.finetune.model import PixelTextClassifier
from pixelgpt.finetune.readers import read_split
from pixelgpt.finetune.tiny_task import write_tiny_task
from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.renderer import Renderer, RendererConfig

INPUTS = ("input_ids", "attention_mask", "patches", "patch_mask")


def prerendered(examples: list, max_patches: int) -> list:
    """The examples with a stored strip: rendered once, padded white to the full width, kept as PNG bytes."""
    renderer = Renderer(RendererConfig(max_patches=max_patches))
    out = []
    for ex in examples:
        texts = [glue_strip_spaces(t) for t in ex.texts]
        r = renderer.render(texts[0]) if len(texts) == 1 else renderer.render_pair(*texts)
        strip = np.full((16, max_patches * 16, 3), 255, np.uint8)
        strip[:, : r.strip.shape[1]] = r.strip
        buf = io.BytesIO()
        Image.fromarray(strip).save(buf, format="PNG")
        out.append(dataclasses.replace(ex, image_png=buf.getvalue(), num_patches=r.num_text_patches))
    return out


def loader(examples, modality: str, source: str, args, shuffle: bool) -> torch.utils.data.DataLoader:
    enc = Encoder(
        modality,
        tokenizer=ByteTokenizer(),
        renderer_config=RendererConfig(),
        max_tokens=args.tokens,
        max_patches=args.patches,
        pixel_source=source,
    )
    return torch.utils.data.DataLoader(
        FinetuneDataset(examples, enc),
        batch_size=args.batch,
        shuffle=shuffle,
        collate_fn=Collator(enc),
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        drop_last=True,
    )


def batches(data: torch.utils.data.DataLoader):
    """Endless batches (a new epoch after each pass; itertools.cycle would keep old batches alive)."""
    while True:
        yield from data


def make_model() -> tuple[PixelTextClassifier, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = PixelTextClassifier(PixelTextGPT(ModelConfig.tiny()), num_labels=2)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4)


def train_step(it, model, opt) -> float:
    """One training step on the next batch (loading included): examples/s."""
    start = time.perf_counter()
    batch = next(it)
    logits = model(**{k: batch[k] for k in INPUTS if k in batch})
    torch.nn.functional.cross_entropy(logits, batch["labels"]).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return batch["labels"].shape[0] / (time.perf_counter() - start)


@torch.no_grad()
def eval_step(it, model) -> float:
    """One evaluation batch (loading included): examples/s."""
    start = time.perf_counter()
    batch = next(it)
    model(**{k: batch[k] for k in INPUTS if k in batch})
    return batch["labels"].shape[0] / (time.perf_counter() - start)


def bench_modality(modality: str, train, valid, args) -> dict[str, dict[str, float]]:
    """Median examples/s of training steps and of evaluation batches, inputs interleaved batch by batch."""
    sources = ("render", "image") if modality != "text" else ("render",)
    runs = {}
    for source in sources:
        model, opt = make_model()
        runs[source] = {
            "train": batches(loader(train, modality, source, args, shuffle=True)),
            "eval": batches(loader(valid, modality, source, args, shuffle=False)),
            "model": model,
            "opt": opt,
            "rates": {"train": [], "eval": []},
        }
    for round_ in range(2 + args.steps):  # 2 warm-up rounds: first batches, worker start, allocator
        for r in runs.values():
            train_rate = train_step(r["train"], r["model"], r["opt"])
            eval_rate = eval_step(r["eval"], r["model"])
            if round_ >= 2:
                r["rates"]["train"].append(train_rate)
                r["rates"]["eval"].append(eval_rate)
    return {s: {k: statistics.median(v) for k, v in r["rates"].items()} for s, r in runs.items()}


def table_row(modality: str, source: str, r: dict, base: dict | None) -> str:
    name = {"render": "on the fly" if modality != "text" else "tokens", "image": "pre-rendered"}[source]
    ratios, verdict = ["", ""], ""
    if base is not None and source == "render":
        tr, ev = r["train"] / base["train"], r["eval"] / base["eval"]
        ratios = [f"{tr:.2f}x", f"{ev:.2f}x"]
        verdict = "ok" if min(tr, ev) >= 0.8 else "MISSED (>= 0.8x)"
    cells = [modality, name, f"{r['train']:.0f}", f"{r['eval']:.0f}", *ratios, verdict]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12, help="measured rounds (after 2 warm-up rounds)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers (they render / decode)")
    ap.add_argument("--patches", type=int, default=256, help="task length in patches (pixel, pair)")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        write_tiny_task(os.path.join(tmp, "tiny"), n_train=256, n_validation=128, n_test=2)
        train = read_split(os.path.join(tmp, "tiny"), "tiny", "train").examples
        valid = read_split(os.path.join(tmp, "tiny"), "tiny", "validation").examples
    t0 = time.perf_counter()
    train_png, valid_png = prerendered(train, args.patches), prerendered(valid, args.patches)
    print(f"pre-rendered {len(train_png) + len(valid_png)} strips to PNG in {time.perf_counter() - t0:.1f} s")
    print(
        f"\ntiny model, batch {args.batch}, {args.patches} patches / {args.tokens} tokens, {args.workers} "
        f"DataLoader workers, {args.threads} threads; median of {args.steps} rounds\n"
    )
    header = ["modality", "input", "train ex/s", "eval ex/s", "train vs pre-rendered", "eval vs pre-rendered"]
    print("| " + " | ".join([*header, "target"]) + " |")
    print("|---|---|---:|---:|---:|---:|---|")
    for modality in ("text", "pixel", "pair"):
        result = bench_modality(modality, train_png, valid_png, args)
        for source, r in result.items():
            print(table_row(modality, source, r, result.get("image")))


if __name__ == "__main__":
    main()
