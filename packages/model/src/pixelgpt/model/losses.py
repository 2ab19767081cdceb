"""The two pretraining losses, always in float32 (docs/paper-facts.md: Losses).

Both return (sum, count) so callers can pool several slices of one batch before dividing; `mean_loss` divides
by max(count, 1), which keeps a batch without any valid target finite (0) and attached to the graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NPP_EPS = 1e-6  # added to the unbiased per-patch variance (MAE/PIXEL `norm_pix_loss`)


def normalize_patches(patches: torch.Tensor) -> torch.Tensor:
    """Each patch (last dim, 768 values) -> (x - mean) / sqrt(unbiased var + 1e-6), in float32."""
    x = patches.float()
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=True)
    return (x - mean) / torch.sqrt(var + NPP_EPS)


def token_ce_sum(
    logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of logits (..., V) against targets (...), summed over the positions `valid` keeps."""
    with torch.autocast(logits.device.type, enabled=False):
        valid = valid.bool()
        safe_targets = targets.masked_fill(~valid, 0)  # padded ids may be anything (-100, pad id)
        ce = F.cross_entropy(logits.float().flatten(0, -2), safe_targets.flatten(), reduction="none")
        ce = ce.view(targets.shape).masked_fill(~valid, 0.0)
        return ce.sum(), valid.sum()


def patch_mse_sum(
    pred: torch.Tensor, target_patches: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE of predictions (..., 768) vs per-patch-normalised targets; per-patch MSEs summed over `valid`."""
    with torch.autocast(pred.device.type, enabled=False):
        valid = valid.bool()
        per_patch = (pred.float() - normalize_patches(target_patches)).pow(2).mean(-1)
        return per_patch.masked_fill(~valid, 0.0).sum(), valid.sum()


def mean_loss(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    return total / count.clamp(min=1).to(total.dtype)


def next_token_loss(
    logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """NTP for a text-only batch: logits (B,T,V) at j predict token j+1; padded targets are ignored."""
    return mean_loss(*token_ce_sum(logits[:, :-1], input_ids[:, 1:], attention_mask[:, 1:]))


def next_patch_loss(pred: torch.Tensor, patches: torch.Tensor, patch_mask: torch.Tensor) -> torch.Tensor:
    """NPP: pred (B,n,768) at t vs normalised patch t+1 (patches in [0,1]), over the target positions kept."""
    return mean_loss(*patch_mse_sum(pred[:, :-1], patches[:, 1:], patch_mask[:, 1:]))
