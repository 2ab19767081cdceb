"""Fine-tuning runs on the real stack (Composer, the renderer, files on disk): each modality end to end from
an export directory, model selection with early stopping, and user errors that end in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from composer.core import Callback, State
from composer.loggers import Logger
from conftest import REPO, TINY_YAMLS, load_run_py

from pixelgpt.finetune.config import ConfigError, load_config
from pixelgpt.finetune.inputs import Collator, Encoder, FinetuneDataset
from pixelgpt.finetune.metrics import compute
from pixelgpt.finetune.readers import read_split
from pixelgpt.finetune.tasks import get_task
from pixelgpt.finetune.trainer import BEST_DIR, finetune, load_classifier
from pixelgpt.renderer import RendererConfig
from pixelgpt.train.export import read_export

QUICK = ("batch_size=8", "max_duration=4ba", "eval_interval=2ba", "warmup=1ba", "max_patches=40")


def tiny_config(modality: str, overrides: list[str]):
    return load_config(os.path.join(TINY_YAMLS, f"tiny-{modality}.yaml"), overrides)


def validation_accuracy(model, modality: str, tiny_export: str, tiny_task: str, cfg) -> float:
    """Score a classifier on the tiny task's validation split, outside the trainer."""
    export = read_export(tiny_export)
    enc = Encoder(modality, tokenizer=export.tokenizer, renderer_config=RendererConfig(),
                  max_tokens=cfg.max_tokens, max_patches=cfg.max_patches)  # fmt: skip
    split = read_split(tiny_task, "tiny", "validation")
    data = FinetuneDataset(split.examples, enc)
    batch = Collator(enc)([data[i] for i in range(len(data))])
    with torch.no_grad():
        logits = model(
            **{k: batch[k] for k in ("input_ids", "attention_mask", "patches", "patch_mask") if k in batch}
        )
    return compute(get_task("tiny"), logits, batch["labels"])["accuracy"]


@pytest.mark.parametrize("modality", ["text", "pixel", "pair"])
def test_finetune_from_an_export_in_each_modality(modality, tiny_overrides, tiny_export, tiny_task, tmp_path):
    cfg = tiny_config(modality, tiny_overrides(*QUICK))
    result = finetune(cfg)
    out = tmp_path / "run"
    written = json.loads((out / "metrics.json").read_text())
    assert written["task"] == "tiny" and written["modality"] == modality
    assert written["select_metric"] == "accuracy" and written["select_split"] == "validation"
    assert written["best_step"] in (2, 4) and written["steps"] == 4
    assert set(written["validation"]["validation"]) == {"accuracy"}
    assert 0.0 <= written["validation"]["validation"]["accuracy"] <= 1.0
    assert [h["step"] for h in written["history"]] == [2, 4]
    assert written["inputs"]["train"] == {"used": 48, "rejected": 0, "truncated": 0, "layout": "glue-tsv"}
    assert written["init_from"] == tiny_export and written["config"]["modality"] == modality
    lines = (out / "predictions" / "test.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction\tlabel" and len(lines) == 1 + 8
    rows = [line.split("\t") for line in lines[1:]]
    assert {(r[1], r[2]) for r in rows} <= {("0", "entailment"), ("1", "not_entailment")}
    assert result["validation"] == written["validation"]
    # The saved weights are the selected ones: they score what metrics.json reports
    model = load_classifier(str(out / BEST_DIR))
    acc = validation_accuracy(model, modality, tiny_export, tiny_task, cfg)
    assert acc == pytest.approx(written["validation"]["validation"]["accuracy"])


class WrongLabelsAfter(Callback):
    """From step `after` on, evaluation sees labels that contradict every prediction (accuracy 0), while
    training goes on: the metric peaks at or before `after`, and the weights keep changing after it."""

    def __init__(self, after: int) -> None:
        self.after = after

    def eval_after_forward(self, state: State, logger: Logger) -> None:
        if int(state.timestamp.batch) > self.after:
            state.batch["labels"] = (state.outputs.argmax(dim=-1) + 1) % 2


def test_early_stopping_keeps_the_best_weights(tiny_overrides, tiny_export, tiny_task, tmp_path):
    cfg = tiny_config("text", tiny_overrides("batch_size=8", "max_duration=40ba", "eval_interval=2ba",
                                             "patience=2", "optimizer.lr=3e-3"))  # fmt: skip
    result = finetune(cfg, callbacks=[WrongLabelsAfter(after=2)])
    history = [(h["step"], h["validation"]["accuracy"]) for h in result["history"]]
    assert [s for s, _ in history] == [2, 4, 6]  # patience 2: two evaluations without improvement, then stop
    assert history[1][1] == history[2][1] == 0.0
    assert result["stopped_early"] and result["steps"] == 6 and result["best_step"] == 2
    best = result["validation"]["validation"]["accuracy"]
    assert best == pytest.approx(history[0][1])
    saved = load_classifier(str(tmp_path / "run" / BEST_DIR))
    assert json.loads((tmp_path / "run" / BEST_DIR / "classifier.json").read_text())["step"] == 2
    assert validation_accuracy(saved, "text", tiny_export, tiny_task, cfg) == pytest.approx(best)


# ------------------------------------------------------------------------------------------------ user errors


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = load_run_py().main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, err


@pytest.mark.parametrize(
    "override, message",
    [
        ("task=nope", "unknown task 'nope'"),
        ("init_from=null", "init_from: missing"),
        ("init_from=/nonexistent/export", "is not a directory"),
        ("modality=image", "modality: 'image' is not one of"),
        ("render_mode=sepia", "render_mode: 'sepia' is not one of"),
        ("precision=amp_bf16", "needs device: gpu"),
    ],
)
def test_bad_input_fails_in_one_line(override, message, tiny_overrides, capsys):
    code, err = run_cli([os.path.join(TINY_YAMLS, "tiny-text.yaml"), *tiny_overrides(), override], capsys)
    assert code == 2
    assert len(err) == 1 and message in err[0], err


def test_missing_split_and_missing_data_fail_in_one_line(tiny_overrides, tiny_task, tmp_path, capsys):
    only_train = tmp_path / "only_train"
    only_train.mkdir()
    shutil.copy(os.path.join(tiny_task, "train.tsv"), only_train / "train.tsv")
    yaml = os.path.join(TINY_YAMLS, "tiny-text.yaml")
    code, err = run_cli([yaml, *tiny_overrides(), f"data.path={only_train}"], capsys)
    assert code == 2 and len(err) == 1 and "validation" in err[0], err
    code, err = run_cli([yaml, *tiny_overrides(), f"data.path={tmp_path / 'nothing'}"], capsys)
    assert code == 2 and len(err) == 1 and "nothing" in err[0], err
    code, err = run_cli([yaml, *tiny_overrides(), "data.train_languages=[en]"], capsys)
    assert code == 2 and len(err) == 1 and "has no languages" in err[0], err


def test_cli_config_errors_exit_2_before_importing_torch(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "packages", "finetune", "run.py"),
         os.path.join(TINY_YAMLS, "tiny-pair.yaml"), "init_from=x", "batch_size=0"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "config error: batch_size: must be >= 1, got 0"
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


def test_every_finetune_yaml_loads_and_names_its_task_and_modality():
    from pixelgpt.finetune.tasks import get_task

    root = os.path.join(REPO, "yamls", "finetune")
    seen = 0
    for model in sorted(os.listdir(root)):
        folder = os.path.join(root, model)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            cfg = load_config(os.path.join(folder, name), ["init_from=x"])
            stem, modality = name.removesuffix(".yaml").rsplit("-", 1)
            assert cfg.modality == modality and stem.split("_")[0] == cfg.task, name
            assert cfg.model == model and get_task(cfg.task)
            seen += 1
    assert seen == 93  # 90 paper configs + 3 tiny


@pytest.mark.slow
def test_fsdp2_two_processes_select_and_restore_the_best_weights(
    tiny_overrides, tiny_export, tiny_task, tmp_path
):
    """`composer -n 2` over gloo with FSDP2: the best weights are gathered from the shards when selected and
    put back into them at the end; the saved copy scores what metrics.json reports."""
    import socket
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    composer = os.path.join(os.path.dirname(sys.executable), "composer")
    yaml = os.path.join(TINY_YAMLS, "tiny-text.yaml")
    args = [*tiny_overrides("batch_size=8", "max_duration=40ba", "eval_interval=2ba", "patience=2"),
            "fsdp.enabled=true", "optimizer.lr=3e-3"]  # fmt: skip
    env = dict(os.environ, TMPDIR=tempfile.mkdtemp(prefix="pxg-", dir="/tmp"))  # short AF_UNIX socket paths
    script = os.path.join(REPO, "tests", "finetune", "fsdp_launch.py")
    proc = subprocess.run(
        [composer, "-n", "2", "--master_port", str(port), script, yaml, *args],
        capture_output=True, text=True, timeout=400, env=env, cwd=REPO,
    )  # fmt: skip
    shutil.rmtree(env["TMPDIR"], ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["step"] for h in result["history"]] == [2, 4, 6] and result["best_step"] == 2
    best = result["history"][0]["validation"]["accuracy"]
    assert result["validation"]["validation"]["accuracy"] == pytest.approx(best)  # re-scored after restoring
    saved = load_classifier(str(tmp_path / "run" / BEST_DIR))
    cfg = tiny_config("text", tiny_overrides())
    assert validation_accuracy(saved, "text", tiny_export, tiny_task, cfg) == pytest.approx(best)
