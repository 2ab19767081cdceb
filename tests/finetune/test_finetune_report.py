"""pixelgpt-report on a handmade RUNS_DIR: the best of several runs is selected, the three files are written,
the table holds the published numbers with their verified/unverified marking; the published data file; the
command's errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from PIL import Image

from pixelgpt.finetune.published import load_published
from pixelgpt.finetune.report import main
from pixelgpt.finetune.tasks import GLUE_TASKS, XNLI_LANGUAGES, get_task


def write_run(
    runs_dir: str, folder: str, task: str, model: str, modality: str, score: float, **extra
) -> None:
    """A metrics.json as the trainer writes it (the contract's format): `score` on every evaluation split,
    a history rising to it."""
    spec = get_task(task)
    scores = {split: {metric: score for metric in spec.metrics} for split in spec.eval_splits}
    history = [
        {"step": step, **{split: {spec.select_metric: score * step / 300} for split in spec.eval_splits}}
        for step in (100, 200, 300)
    ]
    data = {
        "task": task,
        "modality": modality,
        "model": model,
        "select_split": spec.eval_splits[0],
        "select_metric": spec.select_metric,
        "best_step": 300,
        "validation": scores,
        "test": {},
        "history": history,
        "init_from": f"/exports/{model}",
        "config": {"model": model, "optimizer": {"lr": 3e-5}},
        **extra,
    }
    os.makedirs(os.path.join(runs_dir, folder), exist_ok=True)
    with open(os.path.join(runs_dir, folder, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(data, f)


@pytest.fixture
def runs_dir(tmp_path) -> str:
    root = str(tmp_path / "runs")
    # a sweep: two runs of the same task / model / modality; the second is better
    write_run(root, "sweep-rte/lr1e-05", "rte", "pixelgpt", "pixel", 0.600)
    write_run(root, "sweep-rte/lr3e-05", "rte", "pixelgpt", "pixel", 0.650)
    write_run(root, "rte-text", "rte", "textgpt", "text", 0.550)
    write_run(root, "mnli", "mnli", "pixelgpt", "pixel", 0.700)
    per_language = {f"accuracy_{lang}": 0.60 - 0.01 * i for i, lang in enumerate(XNLI_LANGUAGES)}
    xnli_test = {"test": {"accuracy": 0.53, **per_language, "mean_accuracy": 0.53, "num_languages": 15.0}}
    write_run(root, "xnli", "xnli", "pixelgpt", "pixel", 0.52, test=xnli_test)
    os.makedirs(os.path.join(root, "broken"))
    with open(os.path.join(root, "broken", "metrics.json"), "w") as f:
        f.write('{"task": "rte", ')  # a run killed while writing
    write_run(root, "empty", "cola", "pixelgpt", "pixel", 0.3, validation={})
    write_run(root, "diverged", "rte", "textgpt", "text", math.nan)  # loses to the 0.55 run
    return root


def markdown_row(markdown: str, title: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {title} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_report_selects_the_best_run_and_writes_three_files(runs_dir, tmp_path, capsys):
    out = str(tmp_path / "report")
    assert main([runs_dir, "--out", out]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [os.path.join(out, name) for name in ("report.md", "report.json", "curves.png")]

    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    rte = next(s for s in report["selected"] if (s["task"], s["model"]) == ("rte", "pixelgpt"))
    assert rte["value"] == 0.650 and rte["runs_compared"] == 2
    rte_text = next(s for s in report["selected"] if (s["task"], s["model"]) == ("rte", "textgpt"))
    assert rte_text["value"] == 0.550 and rte_text["runs_compared"] == 2  # NaN never wins
    assert rte["metrics_json"] == os.path.join("sweep-rte", "lr3e-05", "metrics.json")
    assert report["runs_read"] == 6
    assert sorted(s["path"].split(os.sep)[0] for s in report["skipped"]) == ["broken", "empty"]

    with open(os.path.join(out, "report.md"), encoding="utf-8") as f:
        markdown = f.read()
    header = markdown_row(markdown, "Task")
    assert header[:5] == ["Task", "Metric", "TextGPT text", "PixelGPT pixel", "PIXEL (published)"]
    # ours beside PIXEL's verified numbers and the paper's unverified (derived) one
    assert markdown_row(markdown, "RTE") == ["RTE", "acc", "55.0", "65.0", "60.5", "≈63.9†"]
    assert markdown_row(markdown, "MNLI-m/mm")[2:] == ["–", "70.0/70.0", "78.1/78.9", "–"]
    assert markdown_row(markdown, "XNLI")[1:4] == ["mean acc (test)", "–", "53.0"]
    assert markdown_row(markdown, "**GLUE average**")[-2:] == ["74.1", "74.2†"]
    assert "secondary / unverified" in markdown and "broken/metrics.json" in markdown
    en_to_ur = markdown_row(markdown, "PixelGPT pixel")
    assert (
        en_to_ur[1] == "test" and en_to_ur[2] == "60.0" and en_to_ur[16] == "46.0" and en_to_ur[17] == "53.0"
    )

    with Image.open(os.path.join(out, "curves.png")) as png:
        assert png.format == "PNG" and png.width >= 800 and png.height >= 300


def test_glue_average_appears_when_all_nine_tasks_are_there(tmp_path):
    root = str(tmp_path / "runs")
    for task in GLUE_TASKS:
        write_run(root, task, task, "dualgpt", "pair", 0.75 if task != "wnli" else 0.55)
    assert main([root]) == 0  # --out defaults to RUNS_DIR
    with open(os.path.join(root, "report.md"), encoding="utf-8") as f:
        average = markdown_row(f.read(), "**GLUE average**")
    assert average[2] == f"{(9 * 75 + 55) / 10:.1f}"  # MNLI-m and -mm count as two of ten scores


def test_published_data_file():
    published = load_published()
    pixel = {(r.task, r.split): r.value for r in published.results if r.model == "PIXEL" and r.task != "xnli"}
    assert pixel[("mnli", "validation_matched")] == 78.1 and pixel[("mnli", "validation_mismatched")] == 78.9
    assert pixel[("cola", "validation")] == 38.4 and pixel[("rte", "validation")] == 60.5
    scores = [v for (task, _split), v in pixel.items() if task != "glue"]
    assert len(scores) == 10 and round(sum(scores) / 10, 1) == pixel[("glue", "validation")] == 74.1
    for result in published.results:  # the PixelGPT paper's numbers stay marked unverified
        assert result.verified == (result.source == "pixel-readme")
        assert result.source in published.sources
    assert "UNVERIFIED" in published.sources["paper-summary"]["text"]


def test_command_errors_and_help(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such directory" in err
    os.makedirs(tmp_path / "empty")
    assert main([str(tmp_path / "empty")]) == 1
    assert "no readable metrics.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "RUNS_DIR" in capsys.readouterr().out


def test_console_script_exit_code(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "pixelgpt-report")
    done = subprocess.run([script, str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("pixelgpt-report: no such directory")
