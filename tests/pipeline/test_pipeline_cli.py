"""pipelines/render_corpus.py and pipelines/train_tokenizer.py as a user runs them (in-process Ray)."""

import importlib.util
import os

import pytest
import yaml
from pipeline_helpers import MAX_PATCHES

from pixelgpt.dataset import schema
from pixelgpt.dataset.samples import sample_inputs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(script: str):
    spec = importlib.util.spec_from_file_location(script, os.path.join(ROOT, "pipelines", f"{script}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flags_alone_and_config_with_flag_override(ray_local, tmp_path):
    cli = load("render_corpus")
    wiki = sample_inputs()["wikipedia"]
    out = tmp_path / "flags"
    args = ["--output", str(out), "--max-patches", str(MAX_PATCHES), "--workers", "1", "--quiet"]
    assert cli.main([f"--input=wikipedia={wiki[0]}", *args]) == 0
    assert (out / schema.INDEX_FILE).exists() and (out / "wikipedia-00000" / schema.INDEX_FILE).exists()

    config = tmp_path / "job.yaml"
    config.write_text(
        yaml.safe_dump({"inputs": {"wikipedia": wiki[:1]}, "output": str(tmp_path / "ignored"), "workers": 1})
    )
    out2 = tmp_path / "from-config"
    assert cli.main(["--config", str(config), "--output", str(out2), "--max-patches", str(MAX_PATCHES)]) == 0
    assert not (tmp_path / "ignored").exists()
    assert (out2 / schema.INDEX_FILE).read_bytes() == (out / schema.INDEX_FILE).read_bytes()

    config.write_text(yaml.safe_dump({"inputs": {"wikipedia": wiki}, "output": "x", "colour": "red"}))
    assert cli.main(["--config", str(config)]) == 2  # unknown key: fails before any work
    assert cli.main(["--input", "c4=/no/such/file.json.gz", "--output", str(tmp_path / "y")]) == 2


@pytest.mark.parametrize("bad", ["c4", "c4=", "=x"])
def test_bad_input_flag(bad, tmp_path):
    assert load("render_corpus").main(["--input", bad, "--output", str(tmp_path)]) == 2
