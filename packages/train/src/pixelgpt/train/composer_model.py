"""The Composer wrapper of PixelTextGPT: loss, metrics, FSDP wrapping per decoder block, FLOPs per batch.

Metrics exist only for the modalities a run trains (no NaN columns for the others): text cross-entropy and
perplexity, image (next-patch) MSE, and for pairs both. Training updates the metrics of each micro-batch's
modality; evaluation runs every trained modality on each held-out batch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from composer.models import ComposerModel
from torchmetrics import Metric

from pixelgpt.model import Block, PixelTextGPT
from pixelgpt.train.micro_batches import modality_of, select_modality


class MeanLoss(Metric):
    """A mean of per-target losses, weighted by the number of targets of each batch. `modality` is the
    micro-batch kind it is measured on (text, image or pair); `part` which loss (text or pixel)."""

    full_state_update = False
    part = "text"

    def __init__(self, modality: str = "text") -> None:
        super().__init__()
        self.modality = modality
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, loss: torch.Tensor | None, count: int | torch.Tensor) -> None:
        """count: the targets `loss` averages; a device tensor (the model's own count) is never read on the
        host, so updating costs no sync (a batch without targets has loss 0 and adds nothing)."""
        if loss is None:
            return
        count = torch.as_tensor(count, device=self.total.device).double()
        self.total += loss.detach().double() * count
        self.count += count

    def compute(self) -> torch.Tensor:
        return self.total / self.count if self.count > 0 else torch.tensor(float("nan"), dtype=torch.float64)


class TokenCrossEntropy(MeanLoss):
    """Next-token cross-entropy (nats per token)."""


class TokenPerplexity(MeanLoss):
    """exp(next-token cross-entropy)."""

    def compute(self) -> torch.Tensor:
        return torch.exp(super().compute())


class PatchMSE(MeanLoss):
    """Next-patch MSE on per-patch-normalised targets."""

    part = "pixel"


def build_metrics(modalities) -> dict[str, Metric]:
    """Metrics of the trained modalities, named for the logs: TextCrossEntropy, TextPerplexity, ImageMSE,
    PairTextCrossEntropy, PairTextPerplexity, PairImageMSE."""
    names = {"text": ("Text", None), "image": (None, "Image"), "pair": ("PairText", "PairImage")}
    metrics: dict[str, Metric] = {}
    for m in modalities:
        text, image = names[m]
        if text:
            metrics[f"{text}CrossEntropy"] = TokenCrossEntropy(m)
            metrics[f"{text}Perplexity"] = TokenPerplexity(m)
        if image:
            metrics[f"{image}MSE"] = PatchMSE(m)
    return metrics


MODEL_INPUTS = ("input_ids", "attention_mask", "patches", "patch_mask", "positions")


class ComposerPixelTextGPT(ComposerModel):
    def __init__(self, model: PixelTextGPT, modalities=("text", "image", "pair")) -> None:
        super().__init__()
        self.model = model
        self.modalities = tuple(modalities)
        # FSDP (1 and 2) reads the wrap policy from the ComposerModel's children: one unit per decoder block.
        model.fsdp_wrap_fn = self.fsdp_wrap_fn
        # No training metrics: LossLog records every micro-batch's losses, and Composer would only compute
        # (and warn about) metrics it never updates.
        self.train_metrics: dict[str, Metric] = {}
        self.val_metrics = build_metrics(self.modalities)
        self._flops = 0.0

    @staticmethod
    def fsdp_wrap_fn(module: torch.nn.Module) -> bool:
        return isinstance(module, Block)

    def forward(self, batch: dict[str, torch.Tensor]) -> Any:
        inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}  # not a packed batch's "samples"
        if self.training:
            self._flops = self._flops + self.flops_of(inputs)
        return self.model(**inputs)

    def loss(self, outputs: Any, batch: dict[str, torch.Tensor], *args: Any, **kwargs: Any) -> torch.Tensor:
        return outputs.loss

    def eval_forward(self, batch: dict[str, torch.Tensor], outputs: Any | None = None) -> Any:
        """Held-out batches carry every view: each trained modality runs on them ({modality: ModelOutput})."""
        if outputs is not None:
            return outputs
        return {m: self.model(**select_modality(batch, m)) for m in self.modalities}

    def get_metrics(self, is_train: bool = False) -> dict[str, Metric]:
        return self.train_metrics if is_train else self.val_metrics

    def update_metric(self, batch: dict[str, torch.Tensor], outputs: Any, metric: Metric) -> None:
        if isinstance(outputs, dict):  # evaluation: every modality ran on the full batch
            outputs, batch = outputs[metric.modality], select_modality(batch, metric.modality)
        elif modality_of(batch) != metric.modality:
            return  # training: a micro-batch of another modality
        text, patch = outputs.text_targets, outputs.pixel_targets  # device tensors: no sync
        if metric.part == "pixel":
            metric.update(outputs.pixel_loss, patch)
        else:
            metric.update(outputs.text_loss, text)

    def flops_of(self, batch: dict[str, torch.Tensor]) -> float | torch.Tensor:
        """Forward + backward FLOPs of one micro-batch that count for MFU: per real position the model's
        matmul figure (tokens and patches with their own heads), plus attention over each sample's own
        length n (n^2 per sample; padding and scores across packed samples do not count). In packed rows
        n^2 = sum over the sample's positions p of (2p + 1). Kept a device tensor (read once per step)."""
        masks = [batch[k] for k in ("attention_mask", "patch_mask") if k in batch]
        flops = 0.0
        for key, modality in (("attention_mask", "text"), ("patch_mask", "pixel")):
            if key in batch:
                flops = flops + float(self.model.flops_per_token(0, modality)) * batch[key].sum().double()
        per_context = float(self.model.flops_per_token(1) - self.model.flops_per_token(0))
        if "positions" in batch:
            real = sum(m.bool() for m in masks)
            squares = ((2 * batch["positions"] + 1) * real).sum().double()
        else:  # a sample per row (a pair's patches and tokens one sequence)
            squares = (sum(m.sum(dim=1) for m in masks).double() ** 2).sum()
        return flops + per_context * squares

    def flops_per_batch(self, batch: Any) -> float:
        """SpeedMonitor's hook (called once per step): the FLOPs of the micro-batches this step ran."""
        flops, self._flops = float(self._flops), 0.0
        return flops if math.isfinite(flops) else 0.0
