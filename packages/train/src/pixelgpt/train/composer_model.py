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

from pixelgpt.dataset.collate import select_modality
from pixelgpt.model import Block, PixelTextGPT


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

    def update(self, loss: torch.Tensor | None, count: int) -> None:
        if loss is None or count == 0:
            return
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


MODALITY_OF_KEYS = {frozenset(("input_ids", "attention_mask")): "text",
                    frozenset(("patches", "patch_mask")): "image"}  # fmt: skip


def modality_of(batch: dict[str, torch.Tensor]) -> str:
    """text, image or pair: what a (narrowed) micro-batch feeds the model."""
    return MODALITY_OF_KEYS.get(frozenset(k for k in batch if k in ("input_ids", "attention_mask", "patches",
                                                                     "patch_mask")), "pair")  # fmt: skip


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


def count_targets(batch: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(text targets, patch targets) of a micro-batch, as the model's losses count them."""
    rows = next(iter(batch.values())).shape[0]
    text = patch = 0
    if "input_ids" in batch:
        text = int(batch["attention_mask"].sum())
        if "patches" not in batch:
            text -= rows  # token 0 has no context without an image
    if "patches" in batch:
        patch = int(batch["patch_mask"].sum()) - rows
    return text, patch


class ComposerPixelTextGPT(ComposerModel):
    def __init__(self, model: PixelTextGPT, modalities=("text", "image", "pair")) -> None:
        super().__init__()
        self.model = model
        self.modalities = tuple(modalities)
        # FSDP (1 and 2) reads the wrap policy from the ComposerModel's children: one unit per decoder block.
        model.fsdp_wrap_fn = self.fsdp_wrap_fn
        self.train_metrics = build_metrics(self.modalities)
        self.val_metrics = build_metrics(self.modalities)
        self._flops = 0.0

    @staticmethod
    def fsdp_wrap_fn(module: torch.nn.Module) -> bool:
        return isinstance(module, Block)

    def forward(self, batch: dict[str, torch.Tensor]) -> Any:
        if self.training:
            self._flops += self.flops_of(batch)
        return self.model(**batch)

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
        text, patch = count_targets(batch)
        if metric.part == "pixel":
            metric.update(outputs.pixel_loss, patch)
        else:
            metric.update(outputs.text_loss, text)

    def flops_of(self, batch: dict[str, torch.Tensor]) -> float:
        """Forward + backward FLOPs of one micro-batch: the model's per-position figure at the sequence length
        of the batch times its real positions, tokens and patches counted with their own heads."""
        seq = sum(batch[k].shape[1] for k in ("attention_mask", "patch_mask") if k in batch)
        flops = 0.0
        for key, modality in (("attention_mask", "text"), ("patch_mask", "pixel")):
            if key in batch:
                flops += float(self.model.flops_per_token(seq, modality)) * int(batch[key].sum())
        return flops

    def flops_per_batch(self, batch: Any) -> float:
        """SpeedMonitor's hook (called once per step): the FLOPs of the micro-batches this step ran."""
        flops, self._flops = self._flops, 0.0
        return flops if math.isfinite(flops) else 0.0
