"""One CLI family: every entry point answers --help, user errors end in one line (no traceback), and
pixelgpt-generate continues text and rolls out patches from a trained export."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pixelgpt.train.generate import main as generate
from pixelgpt.train.trainer import train

BIN = os.path.dirname(sys.executable)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    ("command", "wants"),
    [
        (["pixelgpt-render", "--help"], "--max-patches"),
        (["pixelgpt-shards", "inspect", "--help"], "--show"),
        (["pixelgpt-train", "--help"], "optimizer.lr"),
        (["pixelgpt-generate", "--help"], "--max-new-tokens"),
        (["pixelgpt-convert", "--help"], "import"),
        (["pixelgpt-report", "--help"], "RUNS_DIR"),
        ([sys.executable, os.path.join(REPO, "pipelines", "render_corpus.py"), "--help"], "--max-tokens"),
        ([sys.executable, os.path.join(REPO, "pipelines", "train_tokenizer.py"), "--help"], "sentencepiece"),
    ],
)
def test_every_cli_answers_help(command, wants):
    exe = command[0] if os.path.isabs(command[0]) else os.path.join(BIN, command[0])
    proc = subprocess.run([exe, *command[1:]], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and wants in proc.stdout, proc.stdout + proc.stderr


def test_train_help_explains_every_documented_key():
    from pixelgpt.train.cli import help_text

    text = help_text()
    for key in ("data.max_tokens", "data.tokenizer", "eval.shards", "logging.wandb.mode", "logging.mlflow"):
        line = next(line for line in text.splitlines() if line.strip().startswith(key))
        assert len(line.split()) > 2, line  # a default and a meaning


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["optimizr.lr=1"], "unknown key 'optimizr'"),
        (["max_duration=forever"], "max_duration: 'forever' is not a duration"),
        (["data.shards=[{path: /no/such/set}]"], "no such folder"),
    ],
)
def test_user_errors_end_in_one_line(args, message, tmp_path):
    yaml = os.path.join(REPO, "yamls", "tiny", "textgpt.yaml")
    proc = subprocess.run(
        [os.path.join(BIN, "pixelgpt-train"), yaml, f"data.cache={tmp_path}/c", f"output_dir={tmp_path}/o",
         *args],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert message in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr[-2000:]


def test_generate_text_and_rollout_from_an_export(tiny_cfg, tmp_path, capsys):
    summary = train(tiny_cfg("dualgpt", "max_duration=2ba", "save_folder=null", "rollouts=0"))
    capsys.readouterr()
    out = tmp_path / "gen"
    assert (
        generate([summary["export_dir"], "--prompt", "The river", "--max-new-tokens", "5", "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith("The river\u2192") and (out / "rollout.png").exists()
    assert generate([str(tmp_path / "nope"), "--prompt", "x"]) == 2
    assert "no such directory" in capsys.readouterr().err
