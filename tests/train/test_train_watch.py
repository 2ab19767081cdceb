"""Watching a run: held-out evaluation of the trained modalities only, W&B (offline) and MLflow (file store)
through Composer's loggers, one compact console line per interval."""

from __future__ import annotations

import glob
import json
import os

import pytest

from pixelgpt.train.trainer import train


def evals(out_dir) -> list[dict]:
    with open(os.path.join(out_dir, "evals.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize(
    ("variant", "metrics"),
    [
        ("pixelgpt", {"ImageMSE"}),
        (
            "dualgpt",
            {
                "TextCrossEntropy",
                "TextPerplexity",
                "ImageMSE",
                "PairTextCrossEntropy",
                "PairTextPerplexity",
                "PairImageMSE",
            },
        ),  # fmt: skip
    ],
)
def test_heldout_evaluation_of_the_trained_modalities(
    variant, metrics, tiny_cfg, shard_set, tmp_path, capsys
):
    run = tiny_cfg(
        variant,
        "max_duration=4ba",
        "save_folder=null",
        "rollouts=1",
        f"eval.shards=[{{path: {shard_set[0]}}}]",
        "eval.interval=2ba",
        "eval.batches=2",
        "logging.console_interval=2ba",
    )
    summary = train(run)
    got = evals(tmp_path / "runs" / f"t-{variant}")
    assert [e["step"] for e in got] == [2, 4]
    for e in got:
        assert set(e) - {"step"} == metrics and all(e[k] > 0 for k in metrics)
    assert summary["heldout"]["step"] == 4
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[step ")]
    assert [line.split("]")[0] for line in lines] == ["[step 2/4", "[step 4/4"]
    assert "nan" not in " ".join(lines) and "samples/s" in lines[0]


def test_wandb_offline_and_mlflow_file_store_write_their_files(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = tiny_cfg(
        "textgpt",
        "max_duration=3ba",
        "save_folder=null",
        "rollouts=0",
        "logging.wandb.enabled=true",
        "logging.mlflow.enabled=true",
    )
    train(run)
    out = tmp_path / "runs" / "t-textgpt"
    assert glob.glob(str(out / "wandb" / "offline-run-*" / "run-*.wandb"))
    metric_files = glob.glob(str(out / "mlruns" / "*" / "*" / "metrics" / "**"), recursive=True)
    names = {
        os.path.relpath(p, glob.glob(str(out / "mlruns" / "*" / "*" / "metrics"))[0]) for p in metric_files
    }
    assert any("loss/train/text" in n for n in names), sorted(names)[:20]
