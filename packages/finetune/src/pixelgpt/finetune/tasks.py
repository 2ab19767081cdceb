"""The fine-tuning tasks: their text fields, labels, metrics, model-selection metric and splits.

Every task the paper evaluates is here (the nine GLUE tasks, XNLI in 15 languages, HatemojiBuild), plus
`tiny`, the synthetic sentence-pair task of `tiny_task.py` used by the CPU demo. Label ids follow the
Hugging Face Hub datasets (`nyu-mll/glue`, `facebook/xnli`), so every reader maps label strings to them.
"""

from __future__ import annotations

from dataclasses import dataclass


class FinetuneError(ValueError):
    """A one-line user error: unknown task, missing split, bad label, bad image, unreadable data."""


# XNLI's 15 languages in the order the paper's tables use (docs/paper-facts.md: Fine-tuning).
XNLI_LANGUAGES = ("en", "fr", "es", "de", "el", "bg", "ru", "tr", "ar", "vi", "th", "zh", "hi", "sw", "ur")

GLUE_TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    text_fields: tuple[str, ...]  # the texts of one example, in this order (1 or 2)
    num_labels: int  # 1 = regression (stsb)
    metrics: tuple[str, ...]  # metric names reported (keys of metrics.task_metrics)
    select_metric: str  # model selection: greater is better
    train_split: str
    eval_splits: tuple[str, ...]  # the first one selects the model
    test_splits: tuple[str, ...]
    languages: tuple[str, ...] = ()  # xnli only
    label_names: tuple[str, ...] = ()  # label id -> name (the Hub's order); empty for regression
    label_range: tuple[float, float] | None = None  # regression only: the valid [low, high]

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1

    @property
    def splits(self) -> tuple[str, ...]:
        return (self.train_split, *self.eval_splits, *self.test_splits)


def _classification(
    name: str,
    text_fields: tuple[str, ...],
    label_names: tuple[str, ...],
    metrics: tuple[str, ...] = ("accuracy",),
    eval_splits: tuple[str, ...] = ("validation",),
    test_splits: tuple[str, ...] = ("test",),
    languages: tuple[str, ...] = (),
) -> TaskSpec:
    """A classification task; the first metric selects the model."""
    return TaskSpec(
        name=name,
        text_fields=text_fields,
        num_labels=len(label_names),
        metrics=metrics,
        select_metric=metrics[0],
        train_split="train",
        eval_splits=eval_splits,
        test_splits=test_splits,
        languages=languages,
        label_names=label_names,
    )


_PAIR = ("sentence1", "sentence2")
_NLI3 = ("entailment", "neutral", "contradiction")
_NLI2 = ("entailment", "not_entailment")

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        _classification("cola", ("sentence",), ("unacceptable", "acceptable"), ("matthews_correlation",)),
        _classification("sst2", ("sentence",), ("negative", "positive")),
        _classification("mrpc", _PAIR, ("not_equivalent", "equivalent"), ("f1", "accuracy")),
        _classification(
            "qqp", ("question1", "question2"), ("not_duplicate", "duplicate"), ("f1", "accuracy")
        ),
        TaskSpec(
            name="stsb",
            text_fields=_PAIR,
            num_labels=1,
            metrics=("spearmanr", "pearson"),
            select_metric="spearmanr",
            train_split="train",
            eval_splits=("validation",),
            test_splits=("test",),
            label_range=(0.0, 5.0),
        ),
        _classification(
            "mnli",
            ("premise", "hypothesis"),
            _NLI3,
            eval_splits=("validation_matched", "validation_mismatched"),
            test_splits=("test_matched", "test_mismatched"),
        ),
        _classification("qnli", ("question", "sentence"), _NLI2),
        _classification("rte", _PAIR, _NLI2),
        # WNLI's Hub order is the reverse of RTE's: 0 = not_entailment, 1 = entailment.
        _classification("wnli", _PAIR, ("not_entailment", "entailment")),
        _classification("xnli", ("premise", "hypothesis"), _NLI3, languages=XNLI_LANGUAGES),
        _classification("hatemoji", ("text",), ("non-hateful", "hateful"), ("accuracy", "macro_f1")),
        # The synthetic CPU task (tiny_task.py): RTE's shape, fields and label order.
        _classification("tiny", _PAIR, _NLI2),
    )
}


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The TaskSpec called `name` (case-insensitive; "sst-2"/"sts-b" accepted); FinetuneError if unknown."""
    if isinstance(name, TaskSpec):
        return name
    key = str(name).strip().lower().replace("-", "")
    if key not in TASKS:
        raise FinetuneError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[key]


def primary_eval_split(task: TaskSpec) -> str:
    """The split whose select_metric picks the best checkpoint (MNLI: validation_matched)."""
    return task.eval_splits[0]
