"""The task table (fields, Hub label orders, metrics, splits) and the tiny task (deterministic, balanced,
needs both sentences, readable as the registered task `tiny`)."""

from __future__ import annotations

import collections
import filecmp

import pytest

from pixelgpt.finetune.readers import read_split
from pixelgpt.finetune.tasks import (
    GLUE_TASKS,
    TASKS,
    XNLI_LANGUAGES,
    FinetuneError,
    get_task,
    primary_eval_split,
)
from pixelgpt.finetune.tiny_task import NUMBERS, write_tiny_task


def test_every_task_of_the_paper_is_registered():
    assert set(GLUE_TASKS) | {"xnli", "hatemoji", "tiny"} == set(TASKS)
    assert len(XNLI_LANGUAGES) == 15 and get_task("xnli").languages == XNLI_LANGUAGES


@pytest.mark.parametrize(
    "name, select, metrics",
    [
        ("cola", "matthews_correlation", ("matthews_correlation",)),
        ("stsb", "spearmanr", ("spearmanr", "pearson")),
        ("mrpc", "f1", ("f1", "accuracy")),
        ("qqp", "f1", ("f1", "accuracy")),
        ("mnli", "accuracy", ("accuracy",)),
        ("hatemoji", "accuracy", ("accuracy", "macro_f1")),
        ("tiny", "accuracy", ("accuracy",)),
    ],
)
def test_metrics_and_model_selection(name, select, metrics):
    task = get_task(name)
    assert task.select_metric == select and task.metrics == metrics


def test_hub_label_orders_and_fields():
    assert get_task("mnli").label_names == ("entailment", "neutral", "contradiction")
    assert get_task("xnli").label_names == ("entailment", "neutral", "contradiction")
    assert get_task("qnli").label_names == get_task("rte").label_names == ("entailment", "not_entailment")
    assert get_task("wnli").label_names == ("not_entailment", "entailment")
    assert get_task("qqp").text_fields == ("question1", "question2")
    assert get_task("qnli").text_fields == ("question", "sentence")
    stsb = get_task("stsb")
    assert stsb.is_regression and stsb.num_labels == 1 and not get_task("rte").is_regression


def test_splits():
    mnli = get_task("mnli")
    assert mnli.eval_splits == ("validation_matched", "validation_mismatched")
    assert mnli.test_splits == ("test_matched", "test_mismatched")
    assert primary_eval_split(mnli) == "validation_matched"
    assert get_task("rte").splits == ("train", "validation", "test")


def test_lookup_is_forgiving_about_spelling_but_not_names():
    assert get_task("SST-2") is get_task("sst2") and get_task("STS-B").name == "stsb"
    assert get_task(get_task("rte")).name == "rte"
    with pytest.raises(FinetuneError, match="unknown task 'superglue'; known tasks: cola, sst2"):
        get_task("superglue")


# ----------------------------------------------------------------------------------------------------------
# The tiny task


def test_tiny_task_is_deterministic_for_a_seed(tmp_path):
    first = write_tiny_task(str(tmp_path / "a"), n_train=60, n_validation=20, n_test=20, seed=3)
    again = write_tiny_task(str(tmp_path / "b"), n_train=60, n_validation=20, n_test=20, seed=3)
    other = write_tiny_task(str(tmp_path / "c"), n_train=60, n_validation=20, n_test=20, seed=4)
    for split in ("train", "validation", "test"):
        assert filecmp.cmp(first[split], again[split], shallow=False)
    assert not filecmp.cmp(first["train"], other["train"], shallow=False)
    with open(first["train"], encoding="utf-8") as f:
        assert f.readline() == "index\tsentence1\tsentence2\tlabel\n"


def number_of(sentence: str) -> int:
    """The count a tiny-task sentence states ("There are [at least] seven lamps.") as an index."""
    return NUMBERS.index(sentence.split()[-2])


def test_tiny_task_is_balanced_and_needs_both_sentences(tmp_path):
    folder = str(tmp_path / "tiny")
    write_tiny_task(folder, n_train=400, n_validation=41, n_test=40, seed=0)
    train = read_split(folder, "tiny", "train")
    assert train.layout == "glue-tsv" and not train.rejects and len(train.examples) == 400
    assert collections.Counter(e.label for e in train.examples) == {0: 200, 1: 200}
    validation = read_split(folder, "tiny", "validation")
    assert sorted(collections.Counter(e.label for e in validation.examples).values()) == [20, 21]
    assert len(read_split(folder, "tiny", "test").examples) == 40

    for example in train.examples:
        first, second = example.texts
        assert first.startswith("There are ") and second.startswith("There are at least ")
        assert example.label == (0 if number_of(second) <= number_of(first) else 1)  # 0 = entailment
    # Either sentence alone says little: the best guess from one number (its majority label) stays far
    # from what comparing both gives (100%).
    for which in (0, 1):
        by_value = collections.defaultdict(collections.Counter)
        for example in train.examples:
            by_value[number_of(example.texts[which])][example.label] += 1
        best_guess = sum(max(counts.values()) for counts in by_value.values()) / len(train.examples)
        assert 0.6 < best_guess < 0.85
