"""The metrics each task reports (torchmetrics), and XNLI's per-language accuracies and their mean.

    metrics = task_metrics(get_task("mrpc"))       # {"f1": ..., "accuracy": ...}
    for m in metrics.values(): m.update(logits, labels)   # logits (B, C) float, labels (B,) long
    {name: float(m.compute()) for name, m in metrics.items()}

CoLA: Matthews correlation; STS-B: Spearman and Pearson (logits (B,) or (B, 1) float, labels float); MRPC and
QQP: F1 of the positive class and accuracy; HatemojiBuild: accuracy and macro-F1; the others: accuracy
(docs/paper-facts.md: Fine-tuning). Rows whose label is -1 (classification) or NaN (regression) are
the unlabelled test rows: they are predicted, not scored, so every metric here skips them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import Accuracy, F1Score, MatthewsCorrCoef, Metric, PearsonCorrCoef, SpearmanCorrCoef
from torchmetrics.wrappers.abstract import WrapperMetric

from pixelgpt.finetune.tasks import XNLI_LANGUAGES, FinetuneError, TaskSpec, get_task


def _labelled(target: torch.Tensor, regression: bool) -> torch.Tensor:
    """Rows that carry a label: unlabelled ones come as -1 (classification) or NaN (regression)."""
    return ~torch.isnan(target.float()) if regression else target >= 0


class _Scored(WrapperMetric):
    """Feeds a torchmetrics metric the labelled rows only, as predicted class ids (argmax of (B, C) logits)
    or, for regression, as flat float scores. Synchronisation across processes is the wrapped metric's."""

    def __init__(self, metric: Metric, regression: bool):
        super().__init__()
        self.metric = metric
        self.regression = regression

    def _labelled_rows(self, preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        preds, target = torch.as_tensor(preds), torch.as_tensor(target)
        keep = _labelled(target, self.regression)
        if self.regression:
            preds, target = preds.reshape(target.shape[0], -1)[:, 0].float(), target.float()
        else:
            preds = preds.argmax(dim=-1) if preds.is_floating_point() else preds.reshape(-1)
            target = target.long()
        return preds[keep], target[keep]

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = self._labelled_rows(preds, target)
        if target.numel():
            self.metric.update(preds, target)

    def compute(self) -> torch.Tensor:
        return self.metric.compute()

    def forward(self, preds: torch.Tensor, target: torch.Tensor) -> Any:
        """The batch's value, accumulating it too (Metric.forward's contract)."""
        preds, target = self._labelled_rows(preds, target)
        return self.metric(preds, target) if target.numel() else None

    def reset(self) -> None:
        self.metric.reset()
        super().reset()


def _make(name: str, task: TaskSpec) -> Metric:
    classes = task.num_labels
    if name == "matthews_correlation":
        inner = (
            MatthewsCorrCoef(task="binary")
            if classes == 2
            else MatthewsCorrCoef("multiclass", num_classes=classes)
        )
    elif name == "f1":  # the positive class's F1 (label 1: equivalent / duplicate), as GLUE reports it
        inner = F1Score(task="binary")
    elif name == "macro_f1":
        inner = F1Score(task="multiclass", num_classes=classes, average="macro")
    elif name == "accuracy":
        inner = Accuracy(task="multiclass", num_classes=classes)
    elif name == "spearmanr":
        with warnings.catch_warnings():  # "saves all predictions": STS-B's 1,500 validation rows are few
            warnings.simplefilter("ignore", UserWarning)
            inner = SpearmanCorrCoef()
    elif name == "pearson":
        inner = PearsonCorrCoef()
    else:
        raise FinetuneError(f"unknown metric {name!r} for task {task.name}")
    return _Scored(inner, regression=task.is_regression)


def task_metrics(task: TaskSpec | str) -> dict[str, Metric]:
    """Fresh metrics of `task`, keyed by TaskSpec.metrics. update(preds, target) takes logits (B, C) (or
    predicted ids (B,)) and labels (B,) for classification; scores (B,) or (B, 1) and float labels for
    STS-B."""
    task = get_task(task)
    return {name: _make(name, task) for name in task.metrics}


def compute(task: TaskSpec | str, logits, labels) -> dict[str, float]:
    """The task's metrics over one set of predictions (the same numbers as task_metrics, in one call); NaN
    for each when no row is labelled."""
    task = get_task(task)
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    if not int(_labelled(labels, task.is_regression).sum()):
        return dict.fromkeys(task.metrics, math.nan)
    results = {}
    for name, metric in task_metrics(task).items():
        metric.update(logits, labels)
        results[name] = float(metric.compute())
    return results


# ----------------------------------------------------------------------------------------------------------
# XNLI: accuracy per language, and the unweighted mean over the languages (docs/paper-facts.md: Fine-tuning)


def accuracy_by_language(languages: Sequence[str], logits, labels) -> dict[str, float]:
    """{language: accuracy} over the labelled rows of each language, in XNLI's language order (others after,
    sorted); languages[i] is row i's language. Languages without a labelled row are left out."""
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    if len(languages) != labels.shape[0]:
        raise FinetuneError(f"{len(languages)} languages for {labels.shape[0]} rows")
    rows: dict[str, list[int]] = {}
    for i, lang in enumerate(languages):
        if bool(labels[i] >= 0):  # a language with no labelled row gets no accuracy
            rows.setdefault(lang, []).append(i)
    order = [lang for lang in XNLI_LANGUAGES if lang in rows] + sorted(set(rows) - set(XNLI_LANGUAGES))
    xnli = get_task("xnli")
    return {lang: compute(xnli, logits[rows[lang]], labels[rows[lang]])["accuracy"] for lang in order}


def language_metrics(languages: Sequence[str], logits, labels) -> dict[str, float]:
    """XNLI's numbers: "accuracy" over all rows (the concatenated split, which selects the model),
    "accuracy_<lang>" per language, "mean_accuracy" = the unweighted mean over the languages present (the
    paper's 15-language average when all 15 are there) and "num_languages"."""
    per_language = accuracy_by_language(languages, logits, labels)
    results = {"accuracy": compute("xnli", logits, labels)["accuracy"]}
    results.update({f"accuracy_{lang}": value for lang, value in per_language.items()})
    results["mean_accuracy"] = sum(per_language.values()) / len(per_language) if per_language else math.nan
    results["num_languages"] = float(len(per_language))
    return results
