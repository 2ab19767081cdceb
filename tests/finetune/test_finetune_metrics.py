"""Each task metric against the formula worked out by hand from counts (no other library), unlabelled rows
skipped, batches accumulated, and XNLI's per-language accuracies and their unweighted mean."""

from __future__ import annotations

import math

import pytest
import torch

from pixelgpt.finetune.metrics import accuracy_by_language, compute, language_metrics, task_metrics
from pixelgpt.finetune.tasks import FinetuneError


def logits_for(classes: list[int], num_classes: int = 2) -> torch.Tensor:
    """Logits whose argmax is each given class (other entries lower, some negative)."""
    out = torch.full((len(classes), num_classes), -1.0)
    out[torch.arange(len(classes)), torch.tensor(classes)] = 2.5
    return out


# predictions / gold for a binary task: TP = 3, TN = 2, FP = 1, FN = 2 (positive class = 1)
PRED = [1, 1, 1, 0, 0, 1, 0, 0]
GOLD = [1, 1, 1, 0, 0, 0, 1, 1]
TP, TN, FP, FN = 3, 2, 1, 2


def test_cola_matthews_correlation_from_counts():
    expected = (TP * TN - FP * FN) / math.sqrt((TP + FP) * (TP + FN) * (TN + FP) * (TN + FN))
    # A 9th row with label -1 (an unlabelled test row) must not count.
    result = compute("cola", logits_for([*PRED, 1]), torch.tensor([*GOLD, -1]))
    assert result == {"matthews_correlation": pytest.approx(expected, abs=1e-6)}


def test_mrpc_and_qqp_f1_of_the_positive_class_and_accuracy():
    f1 = 2 * TP / (2 * TP + FP + FN)
    accuracy = (TP + TN) / (TP + TN + FP + FN)
    for task in ("mrpc", "qqp"):
        result = compute(task, logits_for(PRED), torch.tensor(GOLD))
        assert result == {"f1": pytest.approx(f1, abs=1e-6), "accuracy": pytest.approx(accuracy, abs=1e-6)}


def test_hatemoji_accuracy_and_macro_f1():
    f1_hateful = 2 * TP / (2 * TP + FP + FN)
    # class 0 as the positive class: its TP are the true negatives, its FP the false negatives, and so on
    f1_non_hateful = 2 * TN / (2 * TN + FN + FP)
    result = compute("hatemoji", logits_for(PRED), torch.tensor(GOLD))
    assert result["macro_f1"] == pytest.approx((f1_hateful + f1_non_hateful) / 2, abs=1e-6)
    assert result["accuracy"] == pytest.approx(5 / 8)


def test_mnli_accuracy_over_three_classes():
    pred, gold = [0, 1, 2, 2, 1, 0, 0], [0, 1, 2, 1, 1, 2, 0]
    correct = sum(p == g for p, g in zip(pred, gold))
    assert compute("mnli", logits_for(pred, 3), torch.tensor(gold)) == {
        "accuracy": pytest.approx(correct / 7)
    }


def test_stsb_spearman_and_pearson():
    scores = [0.5, 2.0, 1.0, 4.0, 3.5]
    gold = [1.0, 1.5, 0.5, 4.5, 2.0]
    n = len(scores)
    mean_s, mean_g = sum(scores) / n, sum(gold) / n
    cov = sum((s - mean_s) * (g - mean_g) for s, g in zip(scores, gold))
    pearson = cov / math.sqrt(sum((s - mean_s) ** 2 for s in scores) * sum((g - mean_g) ** 2 for g in gold))
    # no ties: ranks, then 1 - 6 sum(d^2) / (n (n^2 - 1))
    rank_s = [sorted(scores).index(s) + 1 for s in scores]  # 1 3 2 5 4
    rank_g = [sorted(gold).index(g) + 1 for g in gold]  # 2 3 1 5 4
    d2 = sum((a - b) ** 2 for a, b in zip(rank_s, rank_g))
    spearman = 1 - 6 * d2 / (n * (n * n - 1))
    assert spearman == pytest.approx(0.9)
    # (B, 1) scores like a 1-output head; a NaN label (unlabelled row) is skipped
    logits = torch.tensor([*scores, 9.0]).unsqueeze(1)
    result = compute("stsb", logits, torch.tensor([*gold, float("nan")]))
    assert result["pearson"] == pytest.approx(pearson, abs=1e-5)
    assert result["spearmanr"] == pytest.approx(spearman, abs=1e-5)


def test_metrics_accumulate_over_batches_and_reset():
    metrics = task_metrics("mrpc")
    for start in range(0, 8, 3):  # batches of 3, 3, 2
        for metric in metrics.values():
            metric.update(logits_for(PRED[start : start + 3]), torch.tensor(GOLD[start : start + 3]))
    assert float(metrics["f1"].compute()) == pytest.approx(2 * TP / (2 * TP + FP + FN))
    for metric in metrics.values():
        metric.reset()
        metric.update(logits_for([1, 0]), torch.tensor([1, 0]))
    assert float(metrics["accuracy"].compute()) == 1.0 and float(metrics["f1"].compute()) == 1.0


def test_predicted_class_ids_are_accepted_too():
    assert compute("rte", torch.tensor(PRED), torch.tensor(GOLD)) == {"accuracy": pytest.approx(5 / 8)}


def test_xnli_per_language_accuracy_and_unweighted_mean():
    languages = ["en"] * 4 + ["fr"] * 2 + ["sw"] * 2
    pred = [0, 1, 2, 0, 1, 1, 2, 0]
    gold = [0, 1, 2, 1, 1, 0, 0, 0]  # en 3/4, fr 1/2, sw 1/2
    per_language = accuracy_by_language(languages, logits_for(pred, 3), torch.tensor(gold))
    assert per_language == {"en": 0.75, "fr": 0.5, "sw": 0.5}
    assert list(per_language) == ["en", "fr", "sw"]  # XNLI's order
    result = language_metrics(languages, logits_for(pred, 3), torch.tensor(gold))
    assert result["accuracy"] == pytest.approx(5 / 8)  # pooled over the concatenated split
    assert result["mean_accuracy"] == pytest.approx((0.75 + 0.5 + 0.5) / 3)  # each language counts once
    assert result["accuracy_fr"] == 0.5 and result["num_languages"] == 3
    # a language whose rows are all unlabelled (test rows, label -1) gets no accuracy and no say in the mean
    unlabelled = language_metrics(
        [*languages, "ur", "ur"], logits_for([*pred, 0, 1], 3), torch.tensor([*gold, -1, -1])
    )
    assert "accuracy_ur" not in unlabelled and unlabelled["mean_accuracy"] == result["mean_accuracy"]
    assert all(math.isnan(v) for v in compute("stsb", torch.ones(2), torch.tensor([math.nan] * 2)).values())
    with pytest.raises(FinetuneError, match="2 languages for 8 rows"):
        accuracy_by_language(["en", "fr"], logits_for(pred, 3), torch.tensor(gold))
