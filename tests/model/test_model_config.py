"""ModelConfig validation and the paper's exact parameter counts (arithmetic from docs/paper-facts.md:
Model)."""

import json

import pytest
import torch

from pixelgpt.model import ConfigError, ModelConfig, PixelTextGPT


def test_paper_parameter_counts_on_meta_device():
    with torch.device("meta"):
        m = PixelTextGPT(ModelConfig.paper())
    assert next(m.parameters()).is_meta
    d, ff, vocab, layers = 1024, 2816, 32000, 24
    per_layer = d * d + d * 512 + d * 512 + d * d + 3 * d * ff + 2 * d  # q k v o, SwiGLU, two RMSNorms
    assert per_layer == 11_798_528
    counts = m.parameter_counts()
    assert counts["blocks"] == layers * per_layer == 283_164_672
    assert counts["token_embedding"] == vocab * d
    assert counts["patch_embedding"] == 768 * d + d + 2 * d  # conv weight + bias, LayerNorm
    assert counts["final_norm"] == d
    assert counts["token_head"] == d * vocab and counts["pixel_head"] == d * 768
    assert m.num_parameters(include_heads=False) == 316_723_200
    assert m.num_parameters(include_heads=True) == 350_277_632
    assert sum(p.numel() for p in m.parameters()) == 350_277_632


def test_paper_flops_per_token_follow_the_6n_plus_attention_rule():
    with torch.device("meta"):
        m = PixelTextGPT(ModelConfig.paper())
    block_matmuls = 24 * (2 * 1024 * 1024 + 2 * 1024 * 512 + 3 * 1024 * 2816)
    attention = 12 * 24 * 1024 * 1024
    assert m.flops_per_token(1024) == 6 * (block_matmuls + 1024 * 32000) + attention
    assert m.flops_per_token(1024, modality="pixel") == 6 * (block_matmuls + 2 * 768 * 1024) + attention
    with pytest.raises(ValueError, match="modality"):
        m.flops_per_token(1024, modality="audio")


def test_paper_values_and_tiny_defaults():
    cfg = ModelConfig.paper()
    assert (cfg.n_layer, cfg.d_model, cfg.n_head, cfg.n_kv_head, cfg.d_ff) == (24, 1024, 16, 8, 2816)
    assert (cfg.vocab_size, cfg.rope_theta, cfg.norm_eps) == (32000, 1e4, 1e-5)
    assert (cfg.patch_dim, cfg.head_dim) == (768, 64)
    assert ModelConfig.tiny().vocab_size == 512
    assert ModelConfig.tiny(vocab_size=300).vocab_size == 300


def test_dict_round_trip_through_json():
    cfg = ModelConfig.tiny(attention="naive")
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"n_layers": 3}, "n_layers"),  # unknown key (typo)
        ({"attention": "flash"}, "attention"),
        ({"n_head": 3}, "n_head"),  # does not divide d_model 128
        ({"n_kv_head": 3}, "n_kv_head"),  # does not divide n_head 4
        ({"d_ff": 0}, "d_ff"),
        ({"norm_eps": -1.0}, "norm_eps"),
        ({"vocab_size": "512"}, "vocab_size"),
    ],
)
def test_bad_config_fails_naming_the_key(change, key):
    d = {**ModelConfig.tiny().to_dict(), **change}
    with pytest.raises(ConfigError, match=key):
        ModelConfig.from_dict(d)


def test_missing_required_key_is_named():
    d = ModelConfig.tiny().to_dict()
    del d["d_model"]
    with pytest.raises(ConfigError, match="d_model"):
        ModelConfig.from_dict(d)
