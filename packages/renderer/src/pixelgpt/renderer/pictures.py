"""Strips as pictures people can read: patches -> strip, and labelled PNGs of strips wrapped into rows.

    image = strip_image(patches)                       # (n,P,P,C) -> (P, n*P, 3): the one place this happens
    rows_png([Row("sample 3", patches, marks)], "x.png", legend="...")

A 1,024-patch strip is 16 x 16,384 px: as one row it cannot be read. `rows_png` wraps each strip into lines of
`per_row` patches (64 by default, 1,024 px), scales them up, writes a label above each strip, draws coloured
bands under the pixels a mark covers (token spans, prompt vs continuation) and a legend at the bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

BAND = 4  # px of the mark band under each line (before scaling)
GAP = 3  # px between lines
LABEL = 12  # px of label text above a strip (before scaling... text is drawn at 1x, above the scaled lines)
GRID = (200, 200, 200)  # patch boundary ticks in the band


def patches_to_strip(patches: np.ndarray) -> np.ndarray:
    """(n, P, P, C) patches -> (P, n*P, C): side by side, left to right (the one place this is written)."""
    patches = np.asarray(patches)
    if patches.ndim != 4 or patches.shape[1] != patches.shape[2] or patches.shape[3] not in (1, 3):
        raise ValueError(f"patches: want (n, P, P, 1|3), got {patches.shape}")
    n, p, _, c = patches.shape
    return patches.transpose(1, 0, 2, 3).reshape(p, n * p, c)


def strip_image(patches: np.ndarray) -> np.ndarray:
    """(n, P, P, C) patches -> (P, n*P, 3) RGB (a grey strip repeated to three channels)."""
    image = patches_to_strip(patches)
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


@dataclass
class Row:
    """One strip to draw. marks: (start_px, end_px, rgb) bands drawn under those pixels of the strip."""

    label: str
    patches: np.ndarray
    marks: Sequence[tuple[int, int, tuple[int, int, int]]] = field(default_factory=list)


def rows_png(
    rows: Sequence[Row], path: str | Path, per_row: int = 64, scale: int = 2, legend: str | None = None
) -> Path:
    """Draw `rows` one below the other, each wrapped into lines of `per_row` patches, and save a PNG."""
    if not rows:
        raise ValueError("rows_png: nothing to draw")
    p = rows[0].patches.shape[1]
    per_row = min(per_row, max(len(r.patches) for r in rows))  # short strips: no empty width
    line_px = per_row * p
    blocks = []
    for row in rows:
        strip = strip_image(row.patches)
        band = np.full((BAND, strip.shape[1], 3), 255, np.uint8)
        band[:, ::p] = GRID  # patch boundaries
        for start, end, rgb in row.marks:
            band[:, max(0, start) : max(0, min(end, strip.shape[1]))] = rgb
        lines = []
        for x in range(0, strip.shape[1], line_px):
            piece = np.concatenate([strip[:, x : x + line_px], band[:, x : x + line_px]])
            if piece.shape[1] < line_px:  # the last line of a strip, padded with light grey
                pad = np.full((piece.shape[0], line_px - piece.shape[1], 3), 240, np.uint8)
                piece = np.concatenate([piece, pad], axis=1)
            lines.append(piece.repeat(scale, axis=0).repeat(scale, axis=1))
            lines.append(np.full((GAP * scale, line_px * scale, 3), 255, np.uint8))
        blocks.append((row.label, np.concatenate(lines)))
    width = line_px * scale
    legend_lines = legend.splitlines() if legend else []
    height = sum(LABEL + b.shape[0] for _, b in blocks) + LABEL * len(legend_lines) + 4
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    y = 0
    for label, block in blocks:
        draw.text((2, y), label, fill=(0, 0, 0))
        canvas.paste(Image.fromarray(block), (0, y + LABEL))
        y += LABEL + block.shape[0]
    for text in legend_lines:
        draw.text((2, y + 2), text, fill=(60, 60, 60))
        y += LABEL
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
