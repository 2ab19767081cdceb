"""PixelTextClassifier: a pretrained PixelTextGPT with a bias-free linear head at the last real position
(docs/paper-facts.md: Model, Fine-tuning).

The head reads the final-norm hidden state of ONE position per row:
- pixel: the last real patch, i.e. the black end patch (the mask covers num_text_patches + 1 positions);
- text:  the last real token;
- pair:  the last real text token. Deviation from the released code, on purpose: its pair index depends on the
         padding of the batch (for an unpadded row it reads the last image slot, which has seen none of the
         text). A row with no tokens falls back to its last real patch.
Under right padding and causal attention a row's logits therefore do not depend on what it is batched with.

Render modes gray/binary: the released code replaces the 3-channel patch conv by a 1-channel conv whose kernel
is the mean of the three channel kernels. Our patch projection is a Linear over (row, col, channel) values;
feeding it grey/3 in each of the three channels gives sum_c W[., c] * g / 3 = mean_c(W[., c]) * g, exactly
that conv's output, and under Adam the same updates of the averaged kernel. (`grey_input=True` does the /3.)
"""

from __future__ import annotations

import torch
from torch import nn

from pixelgpt.model import PixelTextGPT


class PixelTextClassifier(nn.Module):
    """logits = score(h[last real position]); (B, num_labels), num_labels 1 = regression."""

    def __init__(self, backbone: PixelTextGPT, num_labels: int, grey_input: bool = False) -> None:
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"num_labels: want >= 1, got {num_labels}")
        self.backbone = backbone
        # The LM heads are not used by classification and are not part of the paper's classifier (316,726,272
        # parameters for 3 labels); dropping them saves their memory, gradients and optimizer state.
        backbone.token_head = None
        backbone.pixel_head = None
        d = backbone.config.d_model
        self.score = nn.Linear(d, num_labels, bias=False)
        nn.init.normal_(self.score.weight, mean=0.0, std=backbone.config.init_std)
        self.num_labels = num_labels
        self.grey_input = grey_input

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        patches: torch.Tensor | None = None,
        patch_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h = self.hidden_states(input_ids, attention_mask, patches, patch_mask)
        pos = last_positions(input_ids, attention_mask, patches, patch_mask)
        rows = torch.arange(h.shape[0], device=h.device)
        return self.score(h[rows, pos])

    def hidden_states(self, input_ids, attention_mask, patches, patch_mask) -> torch.Tensor:
        """(B, n+T, d) after the final norm: the backbone without its LM heads and losses (which a classifier
        would pay for at every position). Grey input feeds grey/3 to each of the three channels: the same as
        the released code's 1-channel conv whose weights are the mean over the RGB channels."""
        if self.grey_input and patches is not None:
            values = patches.float() / 255.0 if patches.dtype == torch.uint8 else patches.float()
            patches = values / 3.0
        return self.backbone.hidden_states(input_ids, attention_mask, patches, patch_mask)


def _last_true(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last True per row (0 for a row without any)."""
    order = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    return (mask.long() * order).argmax(dim=1)


def last_positions(
    input_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    patches: torch.Tensor | None = None,
    patch_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B,) index into the [patches][tokens] sequence of the position the head reads (module docstring)."""
    n, last_patch = 0, None
    if patches is not None:
        b, n = patches.shape[:2]
        pm = torch.ones(b, n, dtype=torch.bool) if patch_mask is None else patch_mask.bool()
        last_patch = _last_true(pm.to(patches.device))
    if input_ids is None:
        return last_patch
    am = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    last_token = n + _last_true(am)
    if last_patch is None:
        return last_token
    return torch.where(am.any(dim=1), last_token, last_patch)  # no tokens: the end patch


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
