"""The Composer wrapper of PixelTextClassifier: loss (cross-entropy, or MSE for regression), the task's
metrics (pixelgpt.finetune.metrics.task_metrics) on training micro-batches and on each evaluation split."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from composer.models import ComposerModel
from torchmetrics import Metric

from pixelgpt.finetune.metrics import task_metrics
from pixelgpt.finetune.model import PixelTextClassifier
from pixelgpt.model import Block

MODEL_INPUTS = ("input_ids", "attention_mask", "patches", "patch_mask")


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


def labelled_rows(labels: torch.Tensor) -> torch.Tensor:
    """Rows that carry a label: test rows come as -1 (classification) or nan (regression)."""
    return ~torch.isnan(labels) if labels.dtype.is_floating_point else labels >= 0


def predictions(logits: torch.Tensor, regression: bool) -> torch.Tensor:
    """What the metrics take: (B, C) float logits, or (B,) float scores for regression."""
    return logits.float().squeeze(-1) if regression else logits.float()


class ComposerClassifier(ComposerModel):
    def __init__(self, model: PixelTextClassifier, task: Any) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.regression = bool(task.is_regression)
        # FSDP reads the wrap policy from the modules: one unit per decoder block.
        model.fsdp_wrap_fn = self.fsdp_wrap_fn
        self.train_metrics = task_metrics(task)
        self.val_metrics = task_metrics(task)

    @staticmethod
    def fsdp_wrap_fn(module: torch.nn.Module) -> bool:
        return isinstance(module, Block)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**model_inputs(batch))

    def loss(
        self, outputs: torch.Tensor, batch: dict[str, torch.Tensor], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        labels = batch["labels"]
        if self.regression:
            return F.mse_loss(outputs.float().squeeze(-1), labels.float())
        return F.cross_entropy(outputs.float(), labels, ignore_index=-1)

    def eval_forward(self, batch: dict[str, torch.Tensor], outputs: Any | None = None) -> torch.Tensor:
        return outputs if outputs is not None else self.forward(batch)

    def get_metrics(self, is_train: bool = False) -> dict[str, Metric]:
        return self.train_metrics if is_train else self.val_metrics

    def update_metric(self, batch: dict[str, torch.Tensor], outputs: Any, metric: Metric) -> None:
        keep = labelled_rows(batch["labels"])
        if bool(keep.any()):
            metric.update(predictions(outputs, self.regression)[keep], batch["labels"][keep])
