"""Micro-batches: the view of a collated batch that one micro-batch feeds the model.

A batch carries every view its samples have (token ids, patches, both); the trainer decides per micro-batch
which modality it trains (text, image or pair) and gives the model only those tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

MODALITY_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("input_ids", "attention_mask"),
    "image": ("patches", "patch_mask"),
    "pair": ("patches", "patch_mask", "input_ids", "attention_mask"),
}


def select_modality(batch: dict[str, Any], modality: str) -> dict[str, torch.Tensor]:
    """The part of a collated batch a `modality` ("text", "image" or "pair") micro-batch feeds the model: of
    an unpacked batch its keys, of a packed one its view."""
    try:
        keys = MODALITY_KEYS[modality]
    except KeyError:
        raise ValueError(f"modality must be one of {sorted(MODALITY_KEYS)}, got {modality!r}") from None
    if modality in batch:  # packed
        return dict(batch[modality])
    return {k: batch[k] for k in keys}


def split_packed(batch: dict[str, Any], modalities: Sequence[str]) -> list[dict[str, Any]]:
    """Micro-batches of a packed batch: micro-batch m of M = len(modalities) is the m-th of M near-equal
    slices of the rows of view modalities[m]. Rows were opened in sample order, so slice m holds about the
    samples of the m-th M-th of the batch, as an unpacked micro-batch would. Each micro-batch carries
    "samples": how many samples its rows hold (the weight of its loss in the step, counted here on the host).
    A slice of one-sample rows drops `positions` (the plain causal path); a view with fewer rows than
    micro-batches leaves some of them empty (zero samples, zero weight)."""
    micro = []
    for m, modality in enumerate(modalities):
        view = select_modality(batch, modality)
        rows = next(iter(view.values())).shape[0]
        lo, hi = m * rows // len(modalities), (m + 1) * rows // len(modalities)
        part = {k: v[lo:hi] for k, v in view.items()}
        starts = part["positions"] == 0 if "positions" in part else None
        samples = int(starts.sum()) if starts is not None else hi - lo
        if starts is not None and modality != "pair" and samples == hi - lo:
            del part["positions"]  # one sample per row (a pair row keeps its layout: [patches][tokens])
        micro.append({**part, "samples": samples})
    return micro


MODALITY_OF_KEYS = {frozenset(("input_ids", "attention_mask")): "text",
                    frozenset(("patches", "patch_mask")): "image"}  # fmt: skip


def modality_of(batch: dict[str, torch.Tensor]) -> str:
    """text, image or pair: what a (narrowed) micro-batch feeds the model."""
    return MODALITY_OF_KEYS.get(frozenset(k for k in batch if k in ("input_ids", "attention_mask", "patches",
                                                                     "patch_mask")), "pair")  # fmt: skip
