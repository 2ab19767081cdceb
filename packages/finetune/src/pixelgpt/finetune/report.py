"""`pixelgpt-report RUNS_DIR [--out DIR]`: every fine-tuning run below RUNS_DIR -> one results report.

Reads each metrics.json below RUNS_DIR (the trainer's; sweeps leave one per grid point), keeps per
(task, model, modality) the run that scores best on the task's selection metric on its first evaluation
split (the rule the trainer and the paper's scripts select checkpoints by), and writes into DIR (default
RUNS_DIR):

  report.md    the table tasks x (model, modality) beside the published numbers (PIXEL's verified GLUE row,
               the PixelGPT paper's numbers marked secondary/unverified), the selected runs, the XNLI
               per-language table, the runs skipped and why, and the curves
  report.json  the same numbers, machine-readable
  curves.png   per task, the selection metric against the step for each selected run (its `history`)

Scores are printed x100 with one decimal, like GLUE tables. The GLUE average counts MNLI-m and MNLI-mm as two
scores (ten in all), as PIXEL's published 74.1 does, and is shown only when all nine tasks are there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from pixelgpt.finetune.published import Published, PublishedResult, load_published
from pixelgpt.finetune.tasks import GLUE_TASKS, XNLI_LANGUAGES, FinetuneError, TaskSpec, get_task

METRICS_FILE = "metrics.json"
OUTPUTS = ("report.md", "report.json", "curves.png")

# Rows in the order of PIXEL's published table, then the other tasks.
ROW_ORDER = ("mnli", "qqp", "qnli", "sst2", "cola", "stsb", "mrpc", "rte", "wnli", "xnli", "hatemoji", "tiny")
TASK_TITLES = {
    "cola": "CoLA",
    "sst2": "SST-2",
    "mrpc": "MRPC",
    "qqp": "QQP",
    "stsb": "STS-B",
    "mnli": "MNLI-m/mm",
    "qnli": "QNLI",
    "rte": "RTE",
    "wnli": "WNLI",
    "xnli": "XNLI",
    "hatemoji": "HatemojiBuild",
    "tiny": "tiny (synthetic)",
}
METRIC_TITLES = {
    "accuracy": "acc",
    "f1": "F1",
    "matthews_correlation": "MCC",
    "spearmanr": "Spearman",
    "pearson": "Pearson",
    "macro_f1": "macro-F1",
    "mean_accuracy": "mean acc",
}
MODEL_TITLES = {"textgpt": "TextGPT", "pixelgpt": "PixelGPT", "monogpt": "MonoGPT", "dualgpt": "DualGPT"}
MODALITY_ORDER = ("text", "pixel", "pair")
# The published columns of the main table: (model, heading).
PUBLISHED_COLUMNS = (("PIXEL", "PIXEL (published)"), ("PixelGPT", "PixelGPT (paper)"))


@dataclass
class Run:
    """One metrics.json."""

    path: str  # relative to RUNS_DIR
    task: TaskSpec
    model: str
    modality: str
    select_split: str
    select_metric: str
    value: float  # the selection score (a fraction); -inf when NaN
    data: dict = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task.name, self.model, self.modality)


# ---------------------------------------------------------------------------------------------------------
# Reading and selecting runs


def find_runs(runs_dir: str) -> tuple[list[Run], list[dict]]:
    """Every readable metrics.json below runs_dir, and {"path", "reason"} for each one that is not."""
    runs, skipped = [], []
    for folder, dirs, names in os.walk(runs_dir):
        dirs.sort()
        if METRICS_FILE not in names:
            continue
        rel = os.path.relpath(os.path.join(folder, METRICS_FILE), runs_dir)
        try:
            runs.append(load_run(os.path.join(runs_dir, rel), rel))
        except (OSError, ValueError, FinetuneError) as e:  # JSONDecodeError is a ValueError
            skipped.append({"path": rel, "reason": " ".join(str(e).split())})
    return runs, skipped


def load_run(path: str, rel: str) -> Run:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "task" not in data:
        raise ValueError("not a fine-tuning metrics.json (no 'task')")
    task = get_task(data["task"])
    split = data.get("select_split") or task.eval_splits[0]
    metric = data.get("select_metric") or task.select_metric
    value = _score(data, "validation", split, metric)
    if value is None:
        raise ValueError(f"no validation score {split}/{metric}")
    return Run(rel, task, _model_name(data), str(data.get("modality") or "?"), split, metric, value, data)


def _model_name(data: dict) -> str:
    """The pretrained variant: the run's "model", else its config's, else the export folder's name."""
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    name = data.get("model") or config.get("model")
    if not name and data.get("init_from"):
        name = os.path.basename(str(data["init_from"]).rstrip("/"))
    return str(name or "unknown")


def _score(data: dict, section: str, split: str, metric: str) -> float | None:
    """data[section][split][metric] as a float (NaN -> -inf, so it never wins), or None if absent."""
    value = ((data.get(section) or {}).get(split) or {}).get(metric)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return -math.inf if math.isnan(value) else float(value)


def select_best(runs: list[Run]) -> list[tuple[Run, int]]:
    """Per (task, model, modality), the run with the highest selection score (ties: the first path), with
    the number of runs compared; ordered by task, model, modality."""
    groups: dict[tuple, list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.path):
        groups.setdefault(run.key, []).append(run)
    best = [(max(group, key=lambda r: r.value), len(group)) for group in groups.values()]
    return sorted(best, key=lambda pair: _run_rank(pair[0]))


def _run_rank(run: Run) -> tuple:
    return _row_rank(run.task.name) + _column_rank(run.model, run.modality)


def _row_rank(task: str) -> tuple:
    return (ROW_ORDER.index(task) if task in ROW_ORDER else len(ROW_ORDER), task)


def _column_rank(model: str, modality: str) -> tuple:
    models = tuple(MODEL_TITLES)
    return (
        models.index(model.lower()) if model.lower() in models else len(models),
        model,
        MODALITY_ORDER.index(modality) if modality in MODALITY_ORDER else len(MODALITY_ORDER),
        modality,
    )


# ---------------------------------------------------------------------------------------------------------
# The numbers of the table (percent)


def run_cells(run: Run) -> dict[str, Any]:
    """The table's numbers for one selected run: {"scores": [one per score of the row], "split": ...}.
    GLUE and the others: the selection metric on each evaluation split (MNLI: matched, mismatched).
    XNLI: the 15-language mean accuracy on test when the run scored test, else on validation."""
    if run.task.name == "xnli":
        for section, split in (("test", "test"), ("validation", "validation")):
            value = _score(run.data, section, split, "mean_accuracy")
            if value is not None:
                return {"scores": [_percent(value)], "split": split, "metric": "mean_accuracy"}
        return {"scores": [_percent(run.value)], "split": run.select_split, "metric": run.select_metric}
    scores = [_percent(_score(run.data, "validation", s, run.select_metric)) for s in run.task.eval_splits]
    return {"scores": scores, "split": "validation", "metric": run.select_metric}


def _percent(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(100 * value, 4)


def glue_average(cells_by_task: dict[str, dict]) -> float | None:
    """Mean of the ten GLUE scores (MNLI m and mm count once each); None unless all nine tasks are there."""
    scores = [s for task in GLUE_TASKS for s in (cells_by_task.get(task) or {}).get("scores", [None])]
    if len(scores) != 10 or any(s is None for s in scores):
        return None
    return sum(scores) / len(scores)


def build_table(selected: list[tuple[Run, int]], published: Published) -> dict:
    """{"columns", "rows": [{"task", "title", "metric", "cells": {column: run_cells}, "published"}], ...}"""
    # column -> its sort key: TextGPT, PixelGPT, MonoGPT, DualGPT, others; text, pixel, pair
    ranks: dict[str, tuple] = {}
    cells: dict[str, dict[str, dict]] = {}  # task -> column -> run_cells
    for run, _count in selected:
        column = column_name(run.model, run.modality)
        ranks[column] = _column_rank(run.model, run.modality)
        cells.setdefault(run.task.name, {})[column] = run_cells(run)
    columns = sorted(ranks, key=ranks.get)
    rows = []
    for task in sorted(set(cells) | set(GLUE_TASKS), key=_row_rank):
        spec = get_task(task)
        metric = "mean_accuracy" if task == "xnli" else spec.select_metric
        rows.append(
            {
                "task": task,
                "title": TASK_TITLES.get(task, task),
                "metric": metric,
                "cells": cells.get(task, {}),
                "published": _published_cells(published, spec),
            }
        )
    averages = {c: glue_average({t: cells[t].get(c) for t in cells}) for c in columns}
    published_average = {m: published.find(m, "glue") for m, _ in PUBLISHED_COLUMNS}
    return {
        "columns": columns,
        "rows": rows,
        "glue_average": averages,
        "published_glue_average": published_average,
    }


def _published_cells(published: Published, task: TaskSpec) -> dict[str, list[PublishedResult | None]]:
    out = {}
    for model, _heading in PUBLISHED_COLUMNS:
        splits = ("test",) if task.name in ("xnli", "hatemoji") else task.eval_splits
        out[model] = [published.find(model, task.name, split) for split in splits]
    return out


def column_name(model: str, modality: str) -> str:
    return f"{MODEL_TITLES.get(model.lower(), model)} {modality}"


# ---------------------------------------------------------------------------------------------------------
# Markdown


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _fmt_published(result: PublishedResult | None) -> str:
    if result is None:
        return "–"
    text = f"{'≈' if result.derived else ''}{result.value:.1f}"
    return text if result.verified else text + "†"


def _cell_text(cell: dict | None) -> str:
    if not cell:
        return "–"
    text = "/".join(_fmt(s) for s in cell["scores"])
    return text + (" (val)" if cell["split"] == "validation" and cell["metric"] == "mean_accuracy" else "")


def _md_row(values: list[str]) -> str:
    return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_md_row(header), _md_row(["---"] * len(header)), *(_md_row(r) for r in rows)]


def main_table_markdown(table: dict) -> list[str]:
    header = ["Task", "Metric", *table["columns"], *(heading for _, heading in PUBLISHED_COLUMNS)]
    rows = []
    for row in table["rows"]:
        split_note = " (test)" if row["task"] == "xnli" else ""
        ours = [_cell_text(row["cells"].get(c)) for c in table["columns"]]
        theirs = ["/".join(_fmt_published(r) for r in row["published"][m]) for m, _ in PUBLISHED_COLUMNS]
        theirs = ["–" if set(t.split("/")) == {"–"} else t for t in theirs]
        rows.append(
            [row["title"], METRIC_TITLES.get(row["metric"], row["metric"]) + split_note, *ours, *theirs]
        )
    averages = [_fmt(table["glue_average"][c]) for c in table["columns"]]
    published = [_fmt_published(table["published_glue_average"][m]) for m, _ in PUBLISHED_COLUMNS]
    rows.append(["**GLUE average**", "10 scores", *averages, *published])
    return _md_table(header, rows)


def selected_runs_markdown(selected: list[tuple[Run, int]]) -> list[str]:
    header = [
        "Task",
        "Model",
        "Modality",
        "Selected on",
        "Score",
        "Best step",
        "Runs compared",
        "metrics.json",
    ]
    rows = [
        [
            run.task.name,
            run.model,
            run.modality,
            f"{run.select_split} / {METRIC_TITLES.get(run.select_metric, run.select_metric)}",
            _fmt(_percent(run.value)),
            str(run.data.get("best_step", "–")),
            str(count),
            f"`{run.path}`",
        ]
        for run, count in selected
    ]
    return _md_table(header, rows)


def xnli_rows(selected: list[tuple[Run, int]]) -> list[dict]:
    """Per selected XNLI run: the per-language accuracies and their mean (percent), from its test scores when
    it has them, else from validation."""
    rows = []
    for run, _count in selected:
        if run.task.name != "xnli":
            continue
        for section in ("test", "validation"):
            accuracy = {lang: _xnli_score(run, section, f"accuracy_{lang}") for lang in XNLI_LANGUAGES}
            if any(v is not None for v in accuracy.values()):
                mean = _xnli_score(run, section, "mean_accuracy")
                column = column_name(run.model, run.modality)
                rows.append({"column": column, "split": section, "accuracy": accuracy, "mean": mean})
                break
    return rows


def _xnli_score(run: Run, section: str, metric: str) -> float | None:
    return _percent(_score(run.data, section, section, metric))  # XNLI's splits are named like the sections


def xnli_markdown(rows: list[dict], published: Published) -> list[str]:
    header = ["Model", "Split", *XNLI_LANGUAGES, "mean"]
    body = [
        [r["column"], r["split"], *(_fmt(r["accuracy"][lang]) for lang in XNLI_LANGUAGES), _fmt(r["mean"])]
        for r in rows
    ]
    for result in published.results:
        if result.task == "xnli":  # only averages were published where we could read them
            label = f"{result.model} (published, {result.note or result.split})"
            body.append([label, result.split, *(["–"] * len(XNLI_LANGUAGES)), _fmt_published(result)])
    return _md_table(header, body)


def published_markdown(published: Published) -> list[str]:
    header = ["Model", "Task", "Split", "Metric", "Value", "Source", "Note"]
    rows = []
    for r in published.results:
        model = r.model + (f" ({r.variant})" if r.variant else "")
        source = r.source + ("" if r.verified else " (unverified)")
        metric = METRIC_TITLES.get(r.metric, r.metric)
        rows.append([model, r.task, r.split, metric, _fmt_published(r), source, r.note])
    return _md_table(header, rows)


def sources_markdown(published: Published) -> list[str]:
    lines = []
    for key, source in published.sources.items():
        mark = "" if source["verified"] else " (secondary/unverified)"
        lines.append(f"- **{key}**{mark}: {source['text']}")
    return lines


NOTES = (
    'MNLI cells read matched/mismatched. XNLI: 15-language mean accuracy on test ("(val)": on validation, '
    "when the run has no test scores). The GLUE average counts MNLI-m and MNLI-mm separately (ten scores, "
    "as PIXEL's 74.1 does) and is shown only when all nine tasks are there. HatemojiBuild: ours on "
    "validation; the paper's number (RGB rendering) names neither its metric nor its split.",
    "† secondary / unverified: from a machine-generated summary of the PixelGPT paper, not checked against "
    "the paper's PDF. ≈ derived by arithmetic from differences the summary states (low confidence). "
    "Numbers without a mark are verified (PIXEL's README).",
)


def render_markdown(
    runs_dir: str, runs: list[Run], skipped: list[dict], selected, table, xnli, published
) -> str:
    intro = (
        f"{len(runs)} run(s) read from `{runs_dir}`"
        + (f", {len(skipped)} metrics.json skipped (see the end)" if skipped else "")
        + f"; {len(selected)} selected: per task, model and modality the run with the best selection score "
        "on the task's first evaluation split (CoLA MCC, STS-B Spearman, MRPC/QQP F1, the others accuracy)."
    )
    lines = ["# Fine-tuning results", "", intro, "", "## Results (validation, x100)", ""]
    lines += [*main_table_markdown(table), "", NOTES[0], "", NOTES[1], ""]
    lines += ["## Selected runs", "", *selected_runs_markdown(selected), ""]
    lines += ["## XNLI per language (accuracy x100)", "", *xnli_markdown(xnli, published), ""]
    lines += [
        "## Training curves",
        "",
        "![selection metric against step for each selected run](curves.png)",
        "",
    ]
    lines += ["## Published numbers and their sources", "", *published_markdown(published), ""]
    lines += sources_markdown(published)
    if skipped:
        lines += ["", "## Skipped", "", *(f"- `{s['path']}`: {s['reason']}" for s in skipped)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Curves


def plot_curves(selected: list[tuple[Run, int]], path: str) -> str:
    """One panel per task: the selection metric (x100) against the step, one line per selected run, the
    selected step marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_task: dict[str, list[Run]] = {}
    for run, _count in selected:
        if _history_points(run):
            by_task.setdefault(run.task.name, []).append(run)
    panels = max(1, len(by_task))
    cols = min(3, panels)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), dpi=110, squeeze=False)
    for ax in axes.flat[len(by_task) :]:
        ax.axis("off")
    if not by_task:
        axes[0][0].text(0.5, 0.5, "no training history in these runs", ha="center", va="center")
    for ax, (task, runs) in zip(axes.flat, by_task.items()):
        _plot_task(ax, task, runs)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _history_points(run: Run) -> list[tuple[int, float]]:
    points = []
    for record in run.data.get("history") or []:
        value = _score({"h": record}, "h", run.select_split, run.select_metric)
        if isinstance(record, dict) and isinstance(record.get("step"), int) and value is not None:
            points.append((record["step"], 100 * value))
    return sorted(points)


def _plot_task(ax, task: str, runs: list[Run]) -> None:
    for run in runs:
        steps, values = zip(*_history_points(run))
        (line,) = ax.plot(steps, values, ".-", lw=1.2, ms=4, label=column_name(run.model, run.modality))
        best = run.data.get("best_step")
        if best in steps:
            ax.plot([best], [values[steps.index(best)]], "o", ms=8, mfc="none", color=line.get_color())
    metric = METRIC_TITLES.get(runs[0].select_metric, runs[0].select_metric)
    ax.set_title(f"{TASK_TITLES.get(task, task)}: {runs[0].select_split} {metric}")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{metric} x100")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="circle: selected step", title_fontsize=7)


# ---------------------------------------------------------------------------------------------------------
# The command


def write_report(runs_dir: str, out_dir: str | None = None) -> dict[str, str]:
    """Read, select, write report.md / report.json / curves.png into out_dir; returns {name: path}.
    FileNotFoundError if runs_dir is not a folder, FinetuneError if it holds no readable run."""
    if not os.path.isdir(runs_dir):
        raise FileNotFoundError(f"no such directory: {runs_dir}")
    out_dir = out_dir or runs_dir
    runs, skipped = find_runs(runs_dir)
    if not runs:
        reasons = f" ({len(skipped)} unreadable)" if skipped else ""
        raise FinetuneError(f"no readable {METRICS_FILE} under {runs_dir}{reasons}")
    published = load_published()
    selected = select_best(runs)
    table = build_table(selected, published)
    xnli = xnli_rows(selected)
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in OUTPUTS}
    with open(paths["report.md"], "w", encoding="utf-8") as f:
        f.write(render_markdown(runs_dir, runs, skipped, selected, table, xnli, published))
    with open(paths["report.json"], "w", encoding="utf-8") as f:
        report = _json_report(runs_dir, runs, skipped, selected, table, xnli, published)
        json.dump(_strict_json(report), f, indent=2, allow_nan=False)
    plot_curves(selected, paths["curves.png"])
    return paths


def _json_report(runs_dir, runs, skipped, selected, table, xnli, published) -> dict:
    def published_dict(r: PublishedResult | None) -> dict | None:
        return None if r is None else {**r.__dict__}

    return {
        "runs_dir": runs_dir,
        "runs_read": len(runs),
        "skipped": skipped,
        "selected": [
            {
                "task": run.task.name,
                "model": run.model,
                "modality": run.modality,
                "metrics_json": run.path,
                "select_split": run.select_split,
                "select_metric": run.select_metric,
                "value": run.value,
                "best_step": run.data.get("best_step"),
                "runs_compared": count,
                "validation": run.data.get("validation"),
                "test": run.data.get("test"),
            }
            for run, count in selected
        ],
        "table": {
            "columns": table["columns"],
            "rows": [
                {
                    **row,
                    "published": {m: [published_dict(r) for r in rs] for m, rs in row["published"].items()},
                }
                for row in table["rows"]
            ],
            "glue_average": table["glue_average"],
            "published_glue_average": {
                m: published_dict(r) for m, r in table["published_glue_average"].items()
            },
        },
        "xnli": xnli,
        "published": {
            "sources": published.sources,
            "results": [published_dict(r) for r in published.results],
        },
    }


def _strict_json(value: Any) -> Any:
    """NaN and infinities (a diverged run's scores) -> null, so report.json is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(v) for v in value]
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pixelgpt-report",
        description="Collect the fine-tuning runs below RUNS_DIR (every metrics.json, sweeps included), keep "
        "the best run per task, model and modality by the task's selection metric, and write report.md, "
        "report.json and curves.png: our scores beside PIXEL's published GLUE numbers and the PixelGPT "
        "paper's (marked secondary/unverified), the XNLI per-language table and the training curves.",
    )
    parser.add_argument("runs_dir", metavar="RUNS_DIR", help="folder searched recursively for metrics.json")
    parser.add_argument("--out", metavar="DIR", help="where to write the report (default: RUNS_DIR)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        paths = write_report(args.runs_dir, args.out)
    except FileNotFoundError as e:
        print(f"pixelgpt-report: {e}", file=sys.stderr)
        return 2
    except FinetuneError as e:
        print(f"pixelgpt-report: {e}", file=sys.stderr)
        return 1
    for path in paths.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
