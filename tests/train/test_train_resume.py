"""Nothing lost, nothing stuck (trainer side): every variant resumes, with and without FSDP (one rank, in this
process), from a checkpoint written before some modality was ever trained; a corrupt latest checkpoint falls
back to the previous one; corrupt shards are caught by default; a repaired set is not shadowed by its
cache."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from train_helpers import FitStart

from pixelgpt.dataset.streaming import ShardReadError
from pixelgpt.train.config import ConfigError
from pixelgpt.train.trainer import train


def losses(out_dir) -> list[tuple[str, float]]:
    with open(os.path.join(out_dir, "losses.jsonl"), encoding="utf-8") as f:
        return [(r["modality"], r["loss"]) for r in map(json.loads, f)]


@pytest.mark.parametrize("fsdp", [False, True], ids=["plain", "fsdp"])
@pytest.mark.parametrize("variant", ["textgpt", "pixelgpt", "monogpt", "dualgpt"])
def test_every_variant_resumes(variant, fsdp, tiny_cfg, tmp_path):
    """Step 1 trains one modality only, so the step-1 checkpoint holds no optimizer state for the other
    (and PixelGPT/TextGPT never train the other one): the relaunch must still load it and continue exactly."""
    args = ("save_interval=1ba", "rollouts=0", f"fsdp.enabled={str(fsdp).lower()}")
    train(tiny_cfg(variant, "max_duration=1ba", *args, run_name="r"))
    start = FitStart()
    train(tiny_cfg(variant, "max_duration=3ba", *args, run_name="r"), callbacks=[start])
    assert start.step == 1
    if not fsdp:  # the same trajectory as an uninterrupted run (FSDP: covered by the distributed tests)
        train(tiny_cfg(variant, "max_duration=3ba", "save_folder=null", *args, run_name="straight"))
        assert losses(tmp_path / "runs" / "r") == losses(tmp_path / "runs" / "straight")


@pytest.mark.parametrize("fsdp", [False, True], ids=["monolithic", "sharded"])
def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous(fsdp, tiny_cfg, tmp_path, capsys):
    args = ("save_interval=1ba", "rollouts=0", f"fsdp.enabled={str(fsdp).lower()}")
    train(tiny_cfg("pixelgpt", "max_duration=2ba", *args, run_name="c"))
    ckpt = tmp_path / "runs" / "c" / "checkpoints"
    latest = ckpt / os.readlink(ckpt / "latest-rank0.pt")
    assert latest.name == ("ep0-ba2" if fsdp else "ep0-ba2-rank0.pt")
    part = next(latest.glob("*.distcp")) if fsdp else latest
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])  # a write cut short
    start = FitStart()
    train(tiny_cfg("pixelgpt", "max_duration=3ba", *args, run_name="c"), callbacks=[start])
    assert start.step == 1
    out = capsys.readouterr().out
    assert f"checkpoint {latest} cannot be read" in out and "ep0-ba1" in out


def test_no_readable_checkpoint_is_a_clear_error(tiny_cfg, tmp_path):
    args = ("save_interval=1ba", "rollouts=0")
    train(tiny_cfg("textgpt", "max_duration=1ba", *args, run_name="n"))
    ckpt = tmp_path / "runs" / "n" / "checkpoints" / "ep0-ba1-rank0.pt"
    ckpt.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ConfigError, match="no readable checkpoint.*ep0-ba1-rank0.pt"):
        train(tiny_cfg("textgpt", "max_duration=2ba", *args, run_name="n"))


def _flip_a_bit(path) -> bytes:
    data = path.read_bytes()
    broken = bytearray(data)
    broken[len(broken) // 2] ^= 0x10
    path.write_bytes(bytes(broken))
    return data


def _first_shard(root) -> os.PathLike:
    index = json.loads((root / "index.json").read_text())
    return root / index["shards"][0]["zip_data"]["basename"]


def test_a_corrupt_shard_stops_training_and_a_repair_is_not_shadowed_by_the_cache(
    tiny_cfg, copy_shard_set, tmp_path
):
    shards = copy_shard_set("flipped")
    shard = _first_shard(tmp_path / "flipped")
    good = _flip_a_bit(shard)
    cfg = ("max_duration=2ba", "save_folder=null", "rollouts=0", f"data.shards=[{{path: {shards}}}]")
    with pytest.raises(ShardReadError, match="Checksum failure: .*shard.00000.mds.zstd"):
        train(tiny_cfg("textgpt", *cfg, "data.shuffle=false", run_name="bits"))
    shard.write_bytes(good)  # repaired; the same cache folder (as a relaunch has) must not serve the old copy
    train(tiny_cfg("textgpt", *cfg, "data.shuffle=false", run_name="bits"))


def test_a_corrupt_cached_shard_is_fetched_again(tiny_cfg, copy_shard_set, tmp_path, capsys):
    shards = copy_shard_set("cached")
    cfg = ("max_duration=2ba", "save_folder=null", "rollouts=0", f"data.shards=[{{path: {shards}}}]")
    train(tiny_cfg("textgpt", *cfg, "data.shuffle=false", run_name="cache"))
    cache = tmp_path / "cache" / "cache"
    cached = list(cache.rglob("shard.*.mds")) + list(cache.rglob("shard.*.mds.zstd"))  # unpacked or not
    assert cached
    good = {path: _flip_a_bit(path) for path in cached}
    capsys.readouterr()
    train(tiny_cfg("textgpt", *cfg, "data.shuffle=false", run_name="cache"))
    assert capsys.readouterr().out.count("differs from the set's index") == len(cached)
    assert all(path.read_bytes() == data for path, data in good.items() if path.exists())


def test_a_paper_yaml_on_byte_shards_fails_clearly(shard_set, tmp_path):
    """yamls/textgpt.yaml names the Llama-2 tokenizer; shards tokenized otherwise are refused before
    training, naming both tokenizers (a test-made tokenizer directory stands in for Llama-2's)."""
    from transformers import LlamaTokenizerFast

    from pixelgpt.dataset.tokenizers import train_sentencepiece
    from pixelgpt.train.config import load_config

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    train_sentencepiece(iter(["a small corpus for a small tokenizer"] * 50), 300, str(tmp_path / "sp"))
    fast = LlamaTokenizerFast(vocab_file=str(tmp_path / "sp" / "tokenizer.model"), legacy=True)
    fast.save_pretrained(str(tmp_path / "llama-2"))
    cfg = load_config(
        os.path.join(repo, "yamls", "textgpt.yaml"),
        [
            f"data.shards=[{{path: {shard_set[0]}}}]",
            f"data.tokenizer={tmp_path / 'llama-2'}",
            f"data.cache={tmp_path}/cache",
            f"output_dir={tmp_path}/out",
            "save_folder=null",
            "device=cpu",
            "precision=fp32",
            "fsdp.enabled=false",
            "global_batch_size=2",
            "device_microbatch_size=null",
            "data.num_workers=0",
            "model.n_layer=1",
            "model.d_model=64",
            "model.n_head=2",
            "model.n_kv_head=1",
            "model.d_ff=128",
        ],
    )
    with pytest.raises(
        ConfigError, match=r"data.tokenizer: the shard sets were tokenized with byte .*llama-2"
    ):
        train(cfg)
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def test_a_set_rendered_for_longer_rows_is_refused(tiny_cfg):
    for key, value, msg in (
        ("max_tokens", 64, "up to 128 tokens.*only 64"),
        ("max_patches", 32, "up to 64 patches.*only 32"),
    ):
        with pytest.raises(ConfigError, match=f"data.{key}: the shard sets hold samples of {msg}"):
            train(tiny_cfg("dualgpt", f"data.{key}={value}", "max_duration=1ba", "save_folder=null"))
