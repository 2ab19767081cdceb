"""Real Composer runs on CPU from real shards: every variant learns, resume equals an uninterrupted run, the
run-state guard, the export loads without Composer, the PNGs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image
from train_helpers import FitStart, StopAt, read_losses

from pixelgpt.renderer.pictures import BAND, GAP, LABEL
from pixelgpt.train.mixture import VARIANT_MIXTURES, Mixture
from pixelgpt.train.trainer import train


@pytest.mark.parametrize("variant", ["textgpt", "pixelgpt", "monogpt", "dualgpt"])
def test_each_variant_learns(variant, tiny_cfg):
    summary = train(tiny_cfg(variant, "max_duration=24ba", "save_folder=null", "rollouts=1"))
    want = {m for m, w in VARIANT_MIXTURES[variant].items() if w}
    assert set(summary["losses"]) == want
    for modality, s in summary["losses"].items():
        assert s["last_mean"] < 0.9 * s["first_mean"], (modality, s)
    records = read_losses(os.path.dirname(summary["loss_png"]))
    assert [r["step"] for r in records] == list(range(1, 25))
    # the logged modality of every step is the mixture's
    mix = Mixture(VARIANT_MIXTURES[variant], seed=17)
    assert [r["modality"] for r in records] == [mix.modality(s) for s in range(24)]
    with Image.open(summary["loss_png"]) as im:
        assert im.size == (800, 450)
    if variant == "textgpt":
        assert summary["rollout_pngs"] == []
    else:
        assert len(summary["rollout_pngs"]) == 1
        with Image.open(summary["rollout_pngs"][0]) as im:
            width, height = (
                im.size
            )  # 8 context + up to 16 generated patches, scale 4; prediction + truth rows
            row = LABEL + (16 + BAND + GAP) * 4
            assert height == 2 * row + LABEL + 4 and width % 64 == 0 and 16 * 9 * 4 <= width <= 16 * 24 * 4


def test_resume_equals_uninterrupted(tiny_cfg, tmp_path):
    args = ("max_duration=12ba", "save_interval=4ba", "rollouts=0")
    train(tiny_cfg("dualgpt", *args, run_name="straight"))
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg("dualgpt", *args, run_name="broken"), callbacks=[StopAt(6)])
    assert len(read_losses(str(tmp_path / "runs" / "broken"))) == 6
    start = FitStart()
    train(tiny_cfg("dualgpt", *args, run_name="broken"), callbacks=[start])  # the same command again
    assert start.step == 4  # resumed from the step-4 checkpoint, not from scratch
    straight = read_losses(str(tmp_path / "runs" / "straight"))
    resumed = read_losses(str(tmp_path / "runs" / "broken"))
    assert [r["step"] for r in resumed] == list(range(1, 13))
    assert [(r["modality"], r["loss"]) for r in resumed] == [(r["modality"], r["loss"]) for r in straight]


def test_resume_with_changed_data_order_settings_fails(tiny_cfg):
    args = ("max_duration=4ba", "save_interval=2ba", "rollouts=0")
    train(tiny_cfg("textgpt", *args, run_name="guarded"))
    for change, key in (("seed=18", "seed"), ("global_batch_size=4", "global_batch_size"),
                        ("data.num_canonical_nodes=2", "num_canonical_nodes")):  # fmt: skip
        with pytest.raises(ValueError, match=f"cannot resume.*{key}: checkpoint"):
            train(tiny_cfg("textgpt", *args, change, "max_duration=6ba", run_name="guarded"))


def test_export_loads_without_composer(tiny_cfg):
    summary = train(tiny_cfg("pixelgpt", "max_duration=2ba", "save_folder=null", "rollouts=1"))
    code = (
        "import sys, torch; from pixelgpt.model import PixelTextGPT;"
        f"m = PixelTextGPT.from_pretrained({summary['export_dir']!r});"
        "out = m(patches=torch.full((1, 5, 16, 16, 3), 255, dtype=torch.uint8));"
        "assert out.pixel_loss is not None and torch.isfinite(out.pixel_loss);"
        "assert 'composer' not in sys.modules and 'streaming' not in sys.modules;"
        "print(sum(p.numel() for p in m.parameters()))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) == summary["parameters"]
