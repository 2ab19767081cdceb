"""Sweeps: the grid of a config, the best run by validation, and a sweep killed part-way that resumes without
redoing its finished runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, TINY_YAMLS

from pixelgpt.finetune import sweep
from pixelgpt.finetune.config import load_config, load_raw

QUICK = ("batch_size=8", "max_duration=2ba", "eval_interval=2ba", "warmup=1ba", "predict_test=false")


def test_grid_names_and_configs(tiny_overrides, tmp_path):
    raw = load_raw(os.path.join(TINY_YAMLS, "tiny-text.yaml"),
                   [*tiny_overrides(), "sweep.lr=[1e-5,3e-5]", "sweep.grad_accum=[1,2]"])  # fmt: skip
    cfg = load_config(None, **raw)
    points = sweep.grid(cfg)
    assert [sweep.point_name(p) for p in points] == [
        "lr1e-05-ga1-seed42", "lr1e-05-ga2-seed42", "lr3e-05-ga1-seed42", "lr3e-05-ga2-seed42",
    ]  # fmt: skip
    root = sweep.sweep_dir(cfg)
    assert root == str(tmp_path / "run" / "sweep")
    one = load_config(None, **sweep.point_raw(raw, cfg, points[3], root))
    assert (one.optimizer.lr, one.grad_accum, one.seed, one.sweep) == (3e-5, 2, 42, None)
    assert one.output_dir == os.path.join(root, "lr3e-05-ga2-seed42")
    assert one.effective_batch_size == 2 * cfg.batch_size


def test_sweep_picks_the_best_run_and_reuses_finished_ones(tiny_overrides, monkeypatch):
    raw = load_raw(
        os.path.join(TINY_YAMLS, "tiny-text.yaml"), [*tiny_overrides(*QUICK), "sweep.lr=[1e-4,3e-3]"]
    )
    summary = sweep.run_sweep(raw)
    assert [r["status"] for r in summary["runs"]] == ["done", "done"]
    values = [r["value"] for r in summary["runs"]]
    assert summary["best"]["value"] == max(values)
    assert summary["best"]["name"] == summary["runs"][values.index(max(values))]["name"]
    with open(os.path.join(sweep.sweep_dir(load_config(None, **raw)), "sweep.json")) as f:
        on_disk = json.load(f)
    assert on_disk["best"]["name"] == summary["best"]["name"]

    def must_not_run(raw):
        raise AssertionError("a finished run was redone")

    monkeypatch.setattr(sweep, "run_point", must_not_run)
    again = sweep.run_sweep(raw)
    assert again["best"]["name"] == summary["best"]["name"]


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_redoing_finished_runs(tiny_overrides, tmp_path, capsys):
    """The sweep command is killed (SIGKILL) while its second run trains; the same sweep again reads the first
    run's metrics.json and trains only the second (resumed here in-process, which saves a process start)."""
    out = tmp_path / "killed"
    config = os.path.join(TINY_YAMLS, "tiny-text.yaml")
    overrides = [*tiny_overrides(*QUICK, out=str(out)), "sweep.lr=[1e-4,3e-3]"]
    root = out / "sweep"
    names = ["lr0.0001-ga1-seed42", "lr0.003-ga1-seed42"]
    cmd = [sys.executable, "-m", "pixelgpt.finetune.sweep", config, *overrides]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not (root / names[0] / "metrics.json").exists():
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.time() < deadline, "the first run did not finish"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert not (root / names[1] / "metrics.json").exists()  # killed while the second run was going
    stamp = os.stat(root / names[0] / "metrics.json").st_mtime_ns

    summary = sweep.run_sweep(load_raw(config, overrides))
    assert "(1 finished, 1 to run)" in capsys.readouterr().out
    assert os.stat(root / names[0] / "metrics.json").st_mtime_ns == stamp  # not redone
    assert [r["status"] for r in summary["runs"]] == ["done"] * 2
    assert summary["best"]["value"] == max(r["value"] for r in summary["runs"])
    assert json.loads((root / "sweep.json").read_text())["best"]["name"] == summary["best"]["name"]
