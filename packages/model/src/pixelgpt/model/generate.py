"""Autoregressive next-patch rollout (drawing it is the trainer's job: pixelgpt.train.report).

The pixel head predicts a per-patch-normalised patch, so a prediction is brought back to pixel values with the
mean and standard deviation of a reference patch: the prompt's last patch ("prompt_last", stable) or the patch
just before it ("previous", follows the rollout). This is a fix of the released `generate_pixel`, which was a
single forward pass (docs/paper-facts.md: Model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch

from pixelgpt.model.losses import NPP_EPS

if TYPE_CHECKING:
    from pixelgpt.model.model import PixelTextGPT

Denorm = Literal["prompt_last", "previous"]


@torch.no_grad()
def generate_patches(
    model: PixelTextGPT, prompt_patches: torch.Tensor, k: int, denorm: Denorm = "prompt_last"
) -> torch.Tensor:
    """Roll out k patches after prompt_patches ((n,16,16,3) or (B,n,16,16,3), uint8 or float in [0,1]).

    Returns uint8 patches of shape (k,16,16,3) or (B,k,16,16,3). Each step feeds the whole sequence so far
    (no KV cache: rollouts are short and this stays obviously correct).
    """
    if denorm not in ("prompt_last", "previous"):
        raise ValueError(f"denorm: want 'prompt_last' or 'previous', got {denorm!r}")
    if k < 0:
        raise ValueError(f"k: want >= 0, got {k}")
    single = prompt_patches.ndim == 4
    seq = prompt_patches[None] if single else prompt_patches
    if seq.ndim != 5 or seq.shape[1] < 1:
        shape = tuple(prompt_patches.shape)
        raise ValueError(f"prompt_patches: want (n>=1,16,16,3) or (B,n>=1,16,16,3), got {shape}")
    seq = seq.float() / 255.0 if seq.dtype == torch.uint8 else seq.float()
    was_training = model.training
    model.eval()
    try:
        out, n_prompt = [], seq.shape[1]
        for _ in range(k):
            ref = (seq[:, -1] if denorm == "previous" else seq[:, n_prompt - 1]).flatten(1)
            mean = ref.mean(-1, keepdim=True)
            std = torch.sqrt(ref.var(-1, keepdim=True, unbiased=True) + NPP_EPS)
            pred = model(patches=seq).patch_pred[:, -1].float()  # normalised next patch (B, 768)
            nxt = (pred * std + mean).clamp(0.0, 1.0).view(seq.shape[0], 1, *seq.shape[2:])
            nxt = (nxt * 255.0).round() / 255.0  # what a uint8 strip would hold
            out.append(nxt)
            seq = torch.cat([seq, nxt], dim=1)
    finally:
        model.train(was_training)
    gen = torch.cat(out, dim=1) if out else seq[:, :0]
    gen = (gen * 255.0).round().to(torch.uint8)
    return gen[0] if single else gen
