"""What a run leaves for people: the loss curves PNG, next-patch rollouts PNGs and the summary."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import torch

from pixelgpt.model import PixelTextGPT, generate_patches
from pixelgpt.renderer.pictures import Row, rows_png

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


# held-out metric -> the training series it is comparable with
HELDOUT_SERIES = {"TextCrossEntropy": "text", "ImageMSE": "image"}


def plot_losses(records: list[dict], path: str, title: str, evals: list[dict] | None = None) -> str:
    """Loss per micro-batch against the step, one series per modality (pair: text + pixel loss); held-out
    evaluations as large markers in the colour of their modality."""
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
    for metric, modality in HELDOUT_SERIES.items():
        points = [(e["step"], e[metric]) for e in evals or () if metric in e]
        if points:
            steps, values = zip(*points)
            ax.plot(
                steps,
                values,
                "D--",
                ms=6,
                lw=1,
                color=MODALITY_COLORS[modality],
                label=f"{modality} (held out)",
            )
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


GREY, RED, GREEN = (150, 150, 150), (220, 30, 30), (30, 160, 60)
ROLLOUT_LEGEND = (
    "grey band: the prompt; red: the model's continuation, one patch at a time; green: the true continuation"
)


def draw_rollout(prompt: np.ndarray, predicted: np.ndarray, path: str, truth: np.ndarray | None = None,
                 scale: int = 4) -> str:  # fmt: skip
    """A labelled PNG: prompt + prediction, and under it prompt + truth when given."""
    p = prompt.shape[1]
    n, k = len(prompt), len(predicted)
    rows = [Row(f"prompt ({n} patches) + prediction ({k})", np.concatenate([prompt, predicted]),
                [(0, n * p, GREY), (n * p, (n + k) * p, RED)])]  # fmt: skip
    if truth is not None:
        rows.append(Row(f"prompt + truth ({len(truth)})", np.concatenate([prompt, truth]),
                        [(0, n * p, GREY), (n * p, (n + len(truth)) * p, GREEN)]))  # fmt: skip
    return str(rows_png(rows, path, scale=scale, legend=ROLLOUT_LEGEND))


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
        predicted = generate_patches(model, torch.from_numpy(patches[:ctx]), k).numpy()
        path = os.path.join(out_dir, f"rollout-{i}.png")
        paths.append(draw_rollout(patches[:ctx], predicted, path, truth=patches[ctx : ctx + k]))
    return paths
