"""Collation: decoded samples -> padded tensors and the masks PixelTextGPT expects.

Every batch carries both views of its samples (token ids and patches); which of them a micro-batch feeds to
the model (text, image or pair) is the trainer's per-step decision, so collation need not know the step.
Token rows are right-padded with `pad_id` and a 0 mask; patch rows are padded with white (255) patches and a 0
mask. Patches stay uint8 (4x smaller than float) and the model divides by 255.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pixelgpt.dataset.schema import PATCH

WHITE = 255


@dataclass(frozen=True)
class Collator:
    """Pads a list of samples (dicts with `tokens` int (t,) and `patches` uint8 (n,16,16,3)) into a batch.

    max_tokens / max_patches are the row lengths of this run; a longer sample is an error naming it, never
    cropped (the render job cuts chunks to fit its own budgets, and the trainer refuses a shard set rendered
    for longer rows before it starts). With pad_to_max the batch is padded to those maxima instead of the
    longest sample, which gives fixed shapes (for compiled or benchmarked steps).
    """

    max_tokens: int = 1024
    max_patches: int = 1024
    pad_id: int = 0
    pad_to_max: bool = False

    def __post_init__(self) -> None:
        if self.max_tokens < 1 or self.max_patches < 1:
            raise ValueError(
                f"max_tokens and max_patches must be >= 1, got {self.max_tokens}, {self.max_patches}"
            )

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        return {**self.text(samples), **self.pixels(samples)}

    def text(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = [np.asarray(s["tokens"]) for s in samples]
        self._check_lengths(samples, rows, "tokens", self.max_tokens)
        width = self.max_tokens if self.pad_to_max else max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}

    def pixels(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = [np.asarray(s["patches"]) for s in samples]
        self._check_lengths(samples, rows, "patches", self.max_patches)
        for r in rows:
            if r.dtype != np.uint8 or r.ndim != 4 or r.shape[1:] != (PATCH, PATCH, 3):
                raise ValueError(f"patches: want uint8 (n, {PATCH}, {PATCH}, 3), got {r.dtype} {r.shape}")
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


MODALITY_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("input_ids", "attention_mask"),
    "image": ("patches", "patch_mask"),
    "pair": ("patches", "patch_mask", "input_ids", "attention_mask"),
}


def select_modality(batch: dict[str, torch.Tensor], modality: str) -> dict[str, torch.Tensor]:
    """The part of a collated batch a `modality` ("text", "image" or "pair") micro-batch feeds the model."""
    try:
        keys = MODALITY_KEYS[modality]
    except KeyError:
        raise ValueError(f"modality must be one of {sorted(MODALITY_KEYS)}, got {modality!r}") from None
    return {k: batch[k] for k in keys}
