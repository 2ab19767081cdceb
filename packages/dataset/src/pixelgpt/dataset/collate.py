"""Collation: decoded samples -> padded tensors and the masks PixelTextGPT expects.

Every batch carries each view of its samples the run trains (token ids, patches, or both for pairs); which of
them a micro-batch feeds to the model (text, image or pair) is the trainer's per-step decision, so collation
need not know the step. Token rows are right-padded with `pad_id` and a 0 mask; patch rows are padded with
white (255) patches and a 0 mask. Patches stay uint8 (4x smaller than float) and the model divides by 255.

Unpacked (the default): one sample per row, rows as long as the longest sample (or the maxima), a flat dict
{input_ids, attention_mask, patches, patch_mask}.

Packed (`packing=True`): each view packs the samples into rows of a fixed length, several samples per row:
text rows of row_factor x max_tokens tokens, image rows of row_factor x max_patches patches, pair rows of
row_factor x (max_patches + max_tokens) positions (each pair its patches, then its tokens). Rows several
budgets long pack tighter (a row's unfillable end is a smaller share of it); the model's attention stays
within each sample, so the row length changes no result. A sample goes whole into the first row with room,
in arrival order, so rows are opened in sample order and a pure function of the list of samples decides them
all (the same batch always gives the same rows: resumption replays them). `positions` counts from 0 at each
sample's start and runs on through the row's padding (PixelTextGPT's packed rows). The batch is
{"samples": n, "text": {...}, "image": {...}, "pair": {...}}, each view a batch of its own rows; the
trainer cuts it into micro-batches (pixelgpt.train.micro_batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pixelgpt.dataset.schema import PATCH

WHITE = 255
VIEWS = ("text", "image", "pair")  # the modalities a batch can be trained on, each a view of its samples


@dataclass(frozen=True)
class Collator:
    """Pads a list of samples (dicts with `tokens` int (t,) and `patches` uint8 (n,16,16,3)) into a batch.

    max_tokens / max_patches are the row lengths of this run; a longer sample is an error naming it, never
    cropped (the render job cuts chunks to fit its own budgets, and the trainer refuses a shard set rendered
    for longer rows before it starts). With pad_to_max the batch is padded to those maxima instead of the
    longest sample, which gives fixed shapes (for compiled or benchmarked steps); packed rows always have
    them. `views`: the modalities the run trains, only whose tensors are built. `vocab_size`: token ids
    outside [0, vocab_size) are refused here, on the host, where checking costs no accelerator sync.
    `row_factor`: packed rows are this many budgets long (module docstring).
    """

    max_tokens: int = 1024
    max_patches: int = 1024
    pad_id: int = 0
    pad_to_max: bool = False
    packing: bool = False
    views: tuple[str, ...] = VIEWS
    vocab_size: int | None = None
    row_factor: int = 1

    def __post_init__(self) -> None:
        if self.max_tokens < 1 or self.max_patches < 1:
            raise ValueError(
                f"max_tokens and max_patches must be >= 1, got {self.max_tokens}, {self.max_patches}"
            )
        if not self.views or set(self.views) - set(VIEWS):
            raise ValueError(f"views: want a non-empty subset of {VIEWS}, got {self.views!r}")
        if self.row_factor < 1:
            raise ValueError(f"row_factor: want >= 1, got {self.row_factor}")

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        views = set(self.views)
        if self.packing:
            return self.packed(samples)
        batch: dict[str, Any] = {}
        if views & {"text", "pair"}:
            batch.update(self.text(samples))
        if views & {"image", "pair"}:
            batch.update(self.pixels(samples))
        return batch

    def packed(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """{"samples": n, <view>: its packed rows} for each view of the run (module docstring)."""
        views = set(self.views)
        tokens = self._token_rows(samples) if views & {"text", "pair"} else None
        patches = self._patch_rows(samples) if views & {"image", "pair"} else None
        batch: dict[str, Any] = {"samples": len(samples)}
        k = self.row_factor
        if "text" in views:
            batch["text"] = pack_rows(None, tokens, k * self.max_tokens, self.pad_id)
        if "image" in views:
            batch["image"] = pack_rows(patches, None, k * self.max_patches, self.pad_id)
        if "pair" in views:
            batch["pair"] = pack_rows(patches, tokens, k * (self.max_patches + self.max_tokens), self.pad_id)
        return batch

    def _token_rows(self, samples: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        rows = [np.asarray(s["tokens"]) for s in samples]
        self._check_lengths(samples, rows, "tokens", self.max_tokens)
        if self.vocab_size is not None:
            for s, r in zip(samples, rows):
                if len(r) and (int(r.min()) < 0 or int(r.max()) >= self.vocab_size):
                    raise ValueError(
                        f"sample {s.get('doc_id', '?')!r} chunk {s.get('chunk', '?')}: token ids "
                        f"[{int(r.min())}, {int(r.max())}] outside the vocabulary [0, {self.vocab_size})"
                    )
        return rows

    def _patch_rows(self, samples: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        rows = [np.asarray(s["patches"]) for s in samples]
        self._check_lengths(samples, rows, "patches", self.max_patches)
        for r in rows:
            if r.dtype != np.uint8 or r.ndim != 4 or r.shape[1:] != (PATCH, PATCH, 3):
                raise ValueError(f"patches: want uint8 (n, {PATCH}, {PATCH}, 3), got {r.dtype} {r.shape}")
        return rows

    def text(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = self._token_rows(samples)
        width = self.max_tokens if self.pad_to_max else max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}

    def pixels(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = self._patch_rows(samples)
        width = self.max_patches if self.pad_to_max else max(len(r) for r in rows)
        patches = np.full((len(rows), width, PATCH, PATCH, 3), WHITE, dtype=np.uint8)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            patches[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return {"patches": torch.from_numpy(patches), "patch_mask": torch.from_numpy(mask)}

    @staticmethod
    def _check_lengths(samples, rows, what: str, limit: int) -> None:
        for s, r in zip(samples, rows):
            if len(r) > limit:
                raise ValueError(
                    f"sample {s.get('doc_id', '?')!r} chunk {s.get('chunk', '?')}: {len(r)} {what} > "
                    f"max_{what} "
                    f"{limit}; nothing is cropped: re-render with a budget of {limit} or raise "
                    f"data.max_{what}"
                )


def first_fit(sizes: Sequence[int], capacity: int) -> list[list[int]]:
    """Rows of sample indices: each sample, in order, goes into the first row with room for it, else into a
    new row. Rows are opened in sample order and keep their samples in order."""
    free = np.zeros(len(sizes), dtype=np.int64)  # room left in each opened row
    rows: list[list[int]] = []
    for i, size in enumerate(sizes):
        fits = free[: len(rows)] >= size
        r = int(fits.argmax()) if fits.any() else len(rows)
        if r == len(rows):
            rows.append([])
            free[r] = capacity
        rows[r].append(i)
        free[r] -= size
    return rows


def pack_rows(
    patches: list[np.ndarray] | None, tokens: list[np.ndarray] | None, length: int, pad_id: int = 0
) -> dict[str, torch.Tensor]:
    """One view's packed rows of `length` positions: each sample laid out as its patches then its tokens
    (whichever are given; both for a pair view). `positions` is left out of a text or image view whose rows
    each hold one sample: right padding alone needs no per-sample attention (the model's plain causal
    path)."""
    count = len(patches if patches is not None else tokens)
    n = [len(p) for p in patches] if patches is not None else [0] * count
    t = [len(x) for x in tokens] if tokens is not None else [0] * count
    rows = first_fit([a + b for a, b in zip(n, t)], length)
    shape = (len(rows), length)
    out = {}
    if patches is not None:
        out["patches"] = np.full((*shape, PATCH, PATCH, 3), WHITE, dtype=np.uint8)
        out["patch_mask"] = np.zeros(shape, dtype=np.int64)
    if tokens is not None:
        out["input_ids"] = np.full(shape, pad_id, dtype=np.int64)
        out["attention_mask"] = np.zeros(shape, dtype=np.int64)
    positions = np.empty(shape, dtype=np.int64)
    count_up = np.arange(length, dtype=np.int64)
    for r, members in enumerate(rows):
        j = 0
        for i in members:
            if n[i]:
                out["patches"][r, j : j + n[i]] = patches[i]
                out["patch_mask"][r, j : j + n[i]] = 1
            if t[i]:
                out["input_ids"][r, j + n[i] : j + n[i] + t[i]] = tokens[i]
                out["attention_mask"][r, j + n[i] : j + n[i] + t[i]] = 1
            positions[r, j : j + n[i] + t[i]] = count_up[: n[i] + t[i]]
            j += n[i] + t[i]
        start = positions[r, j - 1] + 1 if j else 0  # padding runs on from the row's last sample
        positions[r, j:] = start + count_up[: length - j]
    if patches is not None and tokens is not None or any(len(members) > 1 for members in rows):
        out["positions"] = positions
    return {k: torch.from_numpy(v) for k, v in out.items()}
