"""Config loading and bad input: unknown/missing keys, overrides, missing shard sets, other schema version."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pixelgpt.dataset import schema
from pixelgpt.dataset.streaming import read_meta
from pixelgpt.train.config import ConfigError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
YAMLS = os.path.join(REPO, "yamls")
ALL_YAMLS = [f"{d}{v}.yaml" for d in ("", "tiny/") for v in ("textgpt", "pixelgpt", "dualgpt")] + [
    "tiny/monogpt.yaml"
]


@pytest.mark.parametrize("name", ALL_YAMLS)
def test_shipped_yamls_load(name):
    cfg = load_config(os.path.join(YAMLS, name))
    assert cfg.variant in name and cfg.data.shards


def test_paper_yamls_follow_the_paper():
    """docs/paper-facts.md: Pretraining: AdamW, peak LR 5e-4, 200 warmup steps, bf16, ~4M tokens/patches per
    step."""
    for v in ("textgpt", "pixelgpt", "monogpt", "dualgpt"):
        cfg = load_config(os.path.join(YAMLS, f"{v}.yaml"))
        assert cfg.variant == v and cfg.optimizer.lr == 5e-4 and cfg.scheduler.warmup == "200ba"
        # the paper's model reads Llama-2 tokens: shards of any other tokenizer are refused
        assert cfg.model["vocab_size"] == 32000 and cfg.data.tokenizer == "tokenizers/llama-2"
        assert cfg.precision == "amp_bf16" and cfg.device == "gpu" and cfg.fsdp.enabled
        assert cfg.model["preset"] == "paper"
        per_step = cfg.global_batch_size * cfg.data.max_patches  # strips of up to 1,024 patches (or tokens)
        assert 3.5e6 <= per_step <= 4.5e6, per_step


def test_overrides_nested_and_typed():
    cfg = load_config(
        os.path.join(YAMLS, "tiny", "dualgpt.yaml"),
        ["optimizer.lr=1e-3", "data.shards=[{path: a}, {path: s3://b/c, proportion: 2}]", "mixture.text=3"],
    )
    assert cfg.optimizer.lr == 1e-3
    assert [(s.path, s.proportion) for s in cfg.data.shards] == [("a", None), ("s3://b/c", 2.0)]
    assert (cfg.mixture.text, cfg.mixture.image, cfg.mixture.pair) == (3, 0, 0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimzer.lr=1e-3"], "unknown key 'optimzer'"),
        (["optimizer.lrr=1e-3"], "unknown key 'optimizer.lrr'"),
        (["data.shards=[{path: a, weight: 2}]"], "unknown key 'data.shards[0].weight'"),
        (["precision=fp8"], "precision: 'fp8' is not one of"),
        (["global_batch_size=eight"], "global_batch_size: expected int"),
        (["scheduler.name=step"], "scheduler.name: 'step' is not one of"),
        (["device=gpu", "fsdp.enabled=yes_please"], "fsdp.enabled: expected bool"),
        (["precision=amp_bf16"], "precision: 'amp_bf16' needs device: gpu"),
        (["data.shards=[]"], "data.shards: at least one shard set"),
        (["model.preset=huge"], "model.preset"),
        (["optimizer.lr"], "expected key=value"),
        (["max_duration=ten"], "max_duration: 'ten' is not a duration like 100ba"),
        (["max_duration=0ba"], "max_duration: '0ba' is not a duration"),
        (["save_interval=5 batches"], "save_interval: '5 batches' is not a duration"),
        (["scheduler.warmup=200steps"], "scheduler.warmup: '200steps' is not a duration"),
    ],
)
def test_bad_config_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(os.path.join(YAMLS, "tiny", "dualgpt.yaml"), overrides)


def test_missing_key_names_it(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(
        "run_name: x\nvariant: textgpt\nglobal_batch_size: 8\nmax_duration: 1ba\ndata: {cache: c}\n"
    )
    with pytest.raises(ConfigError, match="missing key 'data.shards'"):
        load_config(path)
    path.write_text(
        "run_name: x\nvariant: textgpt\nglobal_batch_size: 8\ndata: {cache: c, shards: [{path: p}]}\n"
    )
    with pytest.raises(ConfigError, match="missing key 'max_duration'"):
        load_config(path)


def test_run_py_reports_bad_config_fast():
    """The launcher rejects a bad key before importing torch/composer, with exit status 2."""
    run_py = os.path.join(REPO, "packages", "train", "run.py")
    yaml = os.path.join(YAMLS, "tiny", "textgpt.yaml")
    argv = [sys.executable, run_py, yaml, "optimizer.betaz=[0.9,0.9]"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown key 'optimizer.betaz'" in proc.stderr


def test_missing_shard_set_is_a_clear_error(tmp_path, copy_shard_set):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_meta(str(tmp_path / "nowhere"))
    half = copy_shard_set("half")
    os.remove(os.path.join(half, schema.INDEX_FILE))
    with pytest.raises(FileNotFoundError, match="index.json is missing"):
        read_meta(half)


def test_other_schema_version_is_refused(copy_shard_set, tiny_cfg):
    other = copy_shard_set("v999")
    meta_path = os.path.join(other, schema.META_FILE)
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    meta["schema_version"] = 999
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f)
    with pytest.raises(schema.SchemaError, match="schema_version 999"):
        read_meta(other)
    # and through the trainer, before any step runs
    from pixelgpt.train.trainer import train

    with pytest.raises(schema.SchemaError, match=f"shard set '{other}'.*schema_version 999"):
        train(tiny_cfg("textgpt", f"data.shards=[{{path: {other}}}]"))


def test_mixed_tokenizers_are_refused(shard_set, copy_shard_set, tmp_path):
    from pixelgpt.dataset.streaming import PixelTextDataset, ShardSet

    other = copy_shard_set("bpe")
    meta_path = os.path.join(other, schema.META_FILE)
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    meta["tokenizer"] = {"name": "bpe", "vocab_size": 32000, "fingerprint": "x"}
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f)
    with pytest.raises(ValueError, match="same tokenizer"):
        PixelTextDataset([ShardSet(shard_set[0]), ShardSet(other)], cache=str(tmp_path / "c"), batch_size=2)


def test_bad_model_section_fails_before_reading_shards(tiny_cfg):
    from pixelgpt.train.trainer import train

    with pytest.raises(ConfigError, match="model.n_layers"):
        train(tiny_cfg("textgpt", "model.n_layers=3", "data.shards=[{path: /nonexistent}]"))


def test_invalid_yaml_names_its_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("run_name: x\ndata: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: invalid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="nope.yaml: cannot read the config"):
        load_config(tmp_path / "nope.yaml")
