"""Packing on real shards: the collator keeps every sample whole and restarts positions per sample; a packed
view's loss and gradient equal those of its samples run alone through the unpacked model; micro-batches cut
the rows; a packed Composer run resumes onto the same rows and losses; the efficiency switches load from the
YAML, fail clearly, and change nothing of the maths."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch
from composer.core import Callback
from train_helpers import StopAt

from pixelgpt.dataset.collate import Collator
from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.train.config import ConfigError, MixedPrecisionConfig, load_config
from pixelgpt.train.micro_batches import split_packed
from pixelgpt.train.trainer import apply_model_runtime, packed_row_factor, train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_TOKENS, MAX_PATCHES = 128, 64  # the session shard set's budgets (tests/train/conftest.py)


def packed(samples, **kw):
    return Collator(max_tokens=MAX_TOKENS, max_patches=MAX_PATCHES, packing=True, **kw)(samples)


def segments(view: dict, row: int) -> list[tuple[int, int]]:
    """[start, end) of each sample in a row, read from positions (a row without them holds one sample) and
    the masks (real positions form a prefix: padding only at the end)."""
    real = view_mask(view)[row]
    end = int(real.sum())
    assert bool(real[:end].all()) and not bool(real[end:].any()), "padding only at the row's end"
    if "positions" not in view:
        return [(0, end)]
    starts = [int(i) for i in torch.nonzero(view["positions"][row] == 0).flatten()]
    return [(a, b) for a, b in zip(starts, [*starts[1:], end])]


def view_mask(view: dict) -> torch.Tensor:
    masks = [view[k].bool() for k in ("attention_mask", "patch_mask") if k in view]
    return masks[0] if len(masks) == 1 else masks[0] | masks[1]


@pytest.mark.parametrize("view_name", ["text", "image", "pair"])
def test_every_sample_sits_whole_in_one_row_and_positions_restart(shard_set, view_name):
    samples = shard_set[1][:24]
    batch = packed(samples)
    view = batch[view_name]
    assert batch["samples"] == 24
    rows = view_mask(view).shape[0]
    assert rows < 24  # packing did pack
    placed = []
    for r in range(rows):
        for a, b in segments(view, r):
            if "positions" in view:
                assert view["positions"][r, a:b].tolist() == list(range(b - a))  # restart at each sample
            n = int(view["patch_mask"][r, a:b].sum()) if "patch_mask" in view else 0
            t = int(view["attention_mask"][r, a:b].sum()) if "attention_mask" in view else 0
            match = [
                i
                for i, s in enumerate(samples)
                if (n == 0 or np.array_equal(view["patches"][r, a : a + n].numpy(), s["patches"]))
                and (t == 0 or view["input_ids"][r, a + n : a + n + t].tolist() == s["tokens"].tolist())
            ]
            assert match, f"row {r} [{a}, {b}) is no sample"
            placed.append(match[0] if len(match) == 1 else min(set(match) - set(placed)))
        if "positions" in view:  # padding continues the row's last sample
            pos, end = view["positions"][r], segments(view, r)[-1][1]
            assert pos[end:].tolist() == list(
                range(int(pos[end - 1]) + 1, int(pos[end - 1]) + 1 + len(pos) - end)
            )
    assert sorted(placed) == list(range(24))  # every sample exactly once: none split, none lost
    again = packed(samples)[view_name]  # a pure function of the batch (what resumption relies on)
    assert all(torch.equal(view[k], again[k]) for k in view)


def alone(model, s, modality):
    tokens, patches = torch.as_tensor(s["tokens"]).long()[None], torch.as_tensor(s["patches"])[None]
    inputs = {"text": {"input_ids": tokens}, "image": {"patches": patches}}
    inputs["pair"] = {**inputs["text"], **inputs["image"]}
    return model(**inputs[modality])


@pytest.mark.parametrize("modality", ["text", "image", "pair"])
def test_a_packed_view_trains_like_its_samples_alone(shard_set, modality):
    """The independent reference: each sample through the unpacked model on its own, the losses pooled over
    all targets as one batch pools them (a pair's first token is predicted from its end patch)."""
    torch.manual_seed(0)
    model = PixelTextGPT(ModelConfig.tiny(n_layer=1, vocab_size=512))
    samples = shard_set[1][:10]
    out = model(**packed(samples)[modality])
    sums = {"text": [0.0, 0], "pixel": [0.0, 0]}
    for s in samples:
        ref = alone(model, s, modality)
        n, t = len(s["patches"]), len(s["tokens"])
        if modality != "image":
            count = t if modality == "pair" else t - 1
            sums["text"][0], sums["text"][1] = (
                sums["text"][0] + ref.text_loss * count,
                sums["text"][1] + count,
            )
        if modality != "text":
            sums["pixel"][0], sums["pixel"][1] = (
                sums["pixel"][0] + ref.pixel_loss * (n - 1),
                sums["pixel"][1] + n - 1,
            )
    want = sum(total / count for total, count in sums.values() if count)
    torch.testing.assert_close(out.loss, want, atol=1e-5, rtol=0)
    model.zero_grad()
    out.loss.backward()
    got = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    want.backward()
    for k, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(got[k], p.grad, atol=1e-5, rtol=1e-4, msg=k)


def test_micro_batches_cut_the_rows_of_their_modality(shard_set):
    samples = shard_set[1][:16]
    batch = packed(samples, views=("text", "image"))
    assert set(batch) == {"samples", "text", "image"}  # only the views the run trains
    for view in ("text", "image"):
        micro = split_packed(batch, [view] * 4)
        rows = torch.cat([m["input_ids" if view == "text" else "patches"] for m in micro])
        assert torch.equal(rows, batch[view]["input_ids" if view == "text" else "patches"])
        assert sum(m["samples"] for m in micro) == 16
    micro = split_packed(batch, ["text", "image", "image", "text"])
    assert [set(m) - {"samples", "positions"} for m in micro] == [
        {"input_ids", "attention_mask"},
        {"patches", "patch_mask"},
        {"patches", "patch_mask"},
        {"input_ids", "attention_mask"},
    ]


def test_ids_outside_the_vocabulary_are_refused_on_the_host(shard_set):
    sample = dict(shard_set[1][0], doc_id="d1", tokens=np.array([1, 600], dtype=np.int32))
    with pytest.raises(ValueError, match=r"'d1'.*token ids \[1, 600\] outside the vocabulary \[0, 512\)"):
        packed([sample], vocab_size=512)


class BatchDigest(Callback):
    """A digest of every step's collated (packed) batch, before it is cut into micro-batches."""

    def __init__(self) -> None:
        self.digests: dict[int, str] = {}

    def after_dataloader(self, state, logger) -> None:
        h = hashlib.sha1()
        for view in ("text", "image", "pair"):
            for key, t in sorted(state.batch.get(view, {}).items()):
                h.update(key.encode() + t.numpy().tobytes())
        self.digests[int(state.timestamp.batch)] = h.hexdigest()


def test_a_packed_run_resumes_onto_the_same_rows_and_losses(tiny_cfg, tmp_path):
    """DualGPT, packing on, 4 micro-batches per step: stopped after step 3, relaunched from the step-2
    checkpoint, it trains on the same packed rows and logs the same losses as an uninterrupted run."""
    import json

    args = (
        "max_duration=5ba",
        "save_interval=2ba",
        "rollouts=0",
        "data.packing=true",
        "device_microbatch_size=2",
    )
    straight_digest = BatchDigest()
    train(tiny_cfg("dualgpt", *args, run_name="straight"), callbacks=[straight_digest])
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg("dualgpt", *args, run_name="broken"), callbacks=[StopAt(3)])
    resumed_digest = BatchDigest()
    train(tiny_cfg("dualgpt", *args, run_name="broken"), callbacks=[resumed_digest])
    assert sorted(resumed_digest.digests) == [2, 3, 4]  # resumed from the step-2 checkpoint
    assert all(resumed_digest.digests[s] == straight_digest.digests[s] for s in (2, 3, 4))

    def losses(name):
        with open(tmp_path / "runs" / name / "losses.jsonl", encoding="utf-8") as f:
            return [(r["step"], r["micro"], r["modality"], r["loss"]) for r in map(json.loads, f)]

    assert {r[0] for r in losses("straight")} == {1, 2, 3, 4, 5}
    assert losses("broken") == losses("straight")


def test_the_paper_yamls_pack_and_set_the_switches():
    for v in ("textgpt", "pixelgpt", "monogpt", "dualgpt"):
        cfg = load_config(os.path.join(REPO, "yamls", f"{v}.yaml"))
        assert cfg.data.packing and cfg.model_runtime.compile_blocks
        assert cfg.model_runtime.packed_attention == "auto" and not cfg.model_runtime.activation_checkpointing
        assert cfg.fsdp.mixed_precision == MixedPrecisionConfig(param_dtype="bf16", reduce_dtype="fp32")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.packing=maybe", "data.packing: expected bool"),
        ("model_runtime.packed_attention=fast", r"model_runtime.packed_attention: 'fast' is not one of"),
        ("model_runtime.activation_checkpointing=1", "model_runtime.activation_checkpointing: expected bool"),
        ("model_runtime.compile_blocks=yes please", "model_runtime.compile_blocks: expected bool"),
        ("model_runtime.recompute=true", "unknown key 'model_runtime.recompute'"),
        ("fsdp.mixed_precision={param_dtype: fp8}", r"fsdp.mixed_precision.param_dtype: 'fp8' is not one of"),
        ("fsdp.mixed_precision={reduce: fp32}", "unknown key 'fsdp.mixed_precision.reduce'"),
        ("fsdp.mixed_precision=HALF", "fsdp.mixed_precision: 'HALF'"),
        ("model_runtime.packed_attention=flex", "model_runtime.packed_attention: 'flex' needs device: gpu"),
        ("data.packed_row_factor=0", "data.packed_row_factor: must be >= 1"),
        ("data.packed_row_factor=two", "data.packed_row_factor: expected int"),
    ],
)
def test_bad_switches_fail_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(os.path.join(REPO, "yamls", "tiny", "dualgpt.yaml"), [override])


def test_packed_rows_are_four_budgets_long_only_under_flex_attention():
    """Long rows pack tighter but cost O(row^2) under a dense mask (CPU): 4 budgets only for FlexAttention."""
    tiny = os.path.join(REPO, "yamls", "tiny", "dualgpt.yaml")
    gpu = ["device=gpu", "precision=amp_bf16"]
    assert packed_row_factor(load_config(tiny)) == 1
    assert packed_row_factor(load_config(tiny, gpu)) == 4
    assert packed_row_factor(load_config(tiny, [*gpu, "model_runtime.packed_attention=dense"])) == 1
    assert packed_row_factor(load_config(tiny, ["data.packed_row_factor=3"])) == 3
    assert packed_row_factor(load_config(os.path.join(REPO, "yamls", "pixelgpt.yaml"))) == 4


def test_conflicting_switches_fail_clearly():
    tiny = os.path.join(REPO, "yamls", "tiny", "dualgpt.yaml")
    with pytest.raises(ConfigError, match="model_runtime.compile_blocks: `compile: true` already"):
        load_config(tiny, ["compile=true", "model_runtime.compile_blocks=true"])
    both = [
        "fsdp.enabled=true",
        "fsdp.activation_checkpointing=true",
        "model_runtime.activation_checkpointing=true",
    ]
    with pytest.raises(
        ConfigError, match="model_runtime.activation_checkpointing: fsdp.activation_checkpointing"
    ):
        load_config(tiny, both)


def test_the_switches_change_nothing_of_the_maths(shard_set):
    """Activation checkpointing and compiled blocks (aot_eager here: inductor's CPU code takes minutes) give
    the plain model's loss and gradients, and the weights keep their names (checkpoints stay loadable)."""
    cfg = load_config(
        os.path.join(REPO, "yamls", "tiny", "dualgpt.yaml"),
        ["model_runtime.activation_checkpointing=true", "model_runtime.compile_blocks=true"],
    )
    batch = packed(shard_set[1][:6])["pair"]
    torch.manual_seed(0)
    plain = PixelTextGPT(ModelConfig.tiny(n_layer=2, vocab_size=512))
    switched = PixelTextGPT(ModelConfig.tiny(n_layer=2, vocab_size=512))
    switched.load_state_dict(plain.state_dict())
    apply_model_runtime(switched, cfg, backend="aot_eager")
    assert switched.activation_checkpointing and list(switched.state_dict()) == list(plain.state_dict())
    grads = []
    for m in (plain, switched):
        out = m(**batch)
        out.loss.backward()
        grads.append((out.loss, {k: p.grad for k, p in m.named_parameters()}))
    torch.testing.assert_close(grads[1][0], grads[0][0], atol=1e-6, rtol=0)
    for k, g in grads[0][1].items():
        torch.testing.assert_close(grads[1][1][k], g, atol=1e-6, rtol=1e-5, msg=k)


class MixedPrecisionOf(Callback):
    def __init__(self) -> None:
        self.policy = None

    def fit_start(self, state, logger) -> None:
        block = state.model.model.blocks[0]
        self.policy = block._get_fsdp_state()._mp_policy


def test_fsdp2_mixed_precision_from_the_yaml(tiny_cfg):
    """One rank of FSDP2 on the CPU with packing and recomputation: the blocks are gathered in bf16 and
    reduce in fp32, as fsdp.mixed_precision says; the run trains (finite losses)."""
    seen = MixedPrecisionOf()
    summary = train(
        tiny_cfg(
            "dualgpt",
            "max_duration=2ba",
            "save_folder=null",
            "rollouts=0",
            "data.packing=true",
            "fsdp.enabled=true",
            "fsdp.mixed_precision={param_dtype: bf16, reduce_dtype: fp32}",
            "model_runtime.activation_checkpointing=true",
        ),
        callbacks=[seen],
    )
    assert seen.policy.param_dtype == torch.bfloat16 and seen.policy.reduce_dtype == torch.float32
    assert summary["fsdp_units"] >= 2 and all(np.isfinite(s["last"]) for s in summary["losses"].values())


def test_flops_of_packed_rows_are_those_of_their_samples_alone(shard_set):
    """The MFU numerator: a packed micro-batch's FLOPs equal the sum over its samples of the unpacked figure
    of each alone (attention over its own length), tokens and patches with their own heads."""
    from pixelgpt.train.composer_model import ComposerPixelTextGPT

    samples = shard_set[1][:8]
    model = ComposerPixelTextGPT(PixelTextGPT(ModelConfig.tiny(n_layer=1, vocab_size=512)))
    for view in ("text", "image", "pair"):
        got = float(model.flops_of(packed(samples)[view]))
        want = 0.0
        for s in samples:
            n, t = len(s["patches"]), len(s["tokens"])
            alone = {
                "text": {"attention_mask": torch.ones(1, t)},
                "image": {"patch_mask": torch.ones(1, n)},
                "pair": {"patch_mask": torch.ones(1, n), "attention_mask": torch.ones(1, t)},
            }[view]
            want += float(model.flops_of(alone))
        assert got == pytest.approx(want, rel=1e-9), view
