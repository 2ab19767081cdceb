"""What a run leaves for people: the loss curves PNG, next-patch rollouts PNGs and the summary."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import torch

from pixelgpt.model import PixelTextGPT, draw_rollout, generate_patches

MODALITY_COLORS = {"text": "tab:blue", "image": "tab:orange", "pair": "tab:green"}


def loss_summary(records: list[dict], window: int = 5) -> dict[str, dict[str, float]]:
    """Per modality: first and last loss, and the means of the first and last `window` micro-batches."""
    by_mod: dict[str, list[float]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r["step"], r["micro"])):
        by_mod[r["modality"]].append(r["loss"])
    out = {}
    for modality, losses in by_mod.items():
        w = max(1, min(window, len(losses) // 2))
        out[modality] = {
            "first": losses[0],
            "last": losses[-1],
            "first_mean": float(np.mean(losses[:w])),
            "last_mean": float(np.mean(losses[-w:])),
            "count": len(losses),
        }
    return out


def plot_losses(records: list[dict], path: str, title: str) -> str:
    """Loss per micro-batch against the step, one series per modality (pair: text + pixel loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    by_mod: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in records:
        by_mod[r["modality"]].append((r["step"], r["loss"]))
    for modality, points in sorted(by_mod.items()):
        steps, losses = zip(*sorted(points))
        ax.plot(steps, losses, ".-", ms=3, lw=1, label=modality, color=MODALITY_COLORS.get(modality))
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def draw_rollouts(
    model: PixelTextGPT, samples: list[dict], out_dir: str, context: int, max_new: int = 16
) -> list[str]:
    """For each sample strip: `context` patches as the prompt, then up to `max_new` generated patches, drawn
    above the true continuation."""
    paths = []
    for i, sample in enumerate(samples):
        patches = np.ascontiguousarray(sample["patches"])
        n = patches.shape[0]
        ctx = max(1, min(context, n - 1))
        k = min(max_new, n - ctx)
        if k < 1:
            continue
        prompt = torch.from_numpy(patches[:ctx])
        predicted = generate_patches(model, prompt, k)
        paths.append(str(draw_rollout(prompt, predicted, os.path.join(out_dir, f"rollout-{i}.png"),
                                      target=patches[ctx : ctx + k])))  # fmt: skip
    return paths
