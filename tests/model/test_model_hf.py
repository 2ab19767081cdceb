"""The released-checkpoint mapping (pixelgpt.model.hf) and our decoder against transformers' Llama.

transformers is the independent reference: its LlamaForCausalLM must give our logits and hidden states from
the same weights, and the released model's patch embedding is recomputed here with conv2d + layer_norm on the
strip image. The released tensor names are written out in this file by hand (from the released modeling
code), not taken from hf.py, so a wrong name there fails here.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM

from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.model.hf import (
    CheckpointError,
    export_llama,
    load_released,
    model_config_to_released,
    ours_to_released,
    released_config_to_model_config,
    released_to_ours,
    save_released,
)

# rope_theta and norm_eps off the defaults, so a field the mapping forgets shows up as a mismatch
CFG = ModelConfig(
    n_layer=2, d_model=64, n_head=4, n_kv_head=2, d_ff=96, vocab_size=100, rope_theta=500.0, norm_eps=1e-5
)
PATCH = "model.embed_patches.patch_embeddings"
TOL = 1e-4


def randomize(model: PixelTextGPT, seed: int = 0) -> PixelTextGPT:
    """Weights large enough that activations are O(1) (the 0.02 init makes every logit ~0), norms off 1."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1 + 0.2 * noise if "norm.weight" in name else noise / p.shape[-1] ** 0.5)
    return model.eval()


def random_model(cfg: ModelConfig = CFG, seed: int = 0) -> PixelTextGPT:
    torch.manual_seed(seed)
    return randomize(PixelTextGPT(cfg), seed)


def released_names(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of the released ErniePixelForCausalLM, written out from its modeling code."""
    d, hd = cfg.d_model, cfg.head_dim
    names = {
        "model.embed_tokens.weight": (cfg.vocab_size, d),
        f"{PATCH}.projection.weight": (d, 3, 16, 16),
        f"{PATCH}.projection.bias": (d,),
        f"{PATCH}.norm.weight": (d,),
        f"{PATCH}.norm.bias": (d,),
        "model.norm.weight": (d,),
        "lm_token_head.weight": (cfg.vocab_size, d),
        "lm_pixel_head.weight": (768, d),
    }
    for i in range(cfg.n_layer):
        layer = f"model.layers.{i}"
        names |= {
            f"{layer}.input_layernorm.weight": (d,),
            f"{layer}.post_attention_layernorm.weight": (d,),
            f"{layer}.self_attn.q_proj.weight": (cfg.n_head * hd, d),
            f"{layer}.self_attn.k_proj.weight": (cfg.n_kv_head * hd, d),
            f"{layer}.self_attn.v_proj.weight": (cfg.n_kv_head * hd, d),
            f"{layer}.self_attn.o_proj.weight": (d, cfg.n_head * hd),
            f"{layer}.mlp.gate_proj.weight": (cfg.d_ff, d),
            f"{layer}.mlp.up_proj.weight": (cfg.d_ff, d),
            f"{layer}.mlp.down_proj.weight": (d, cfg.d_ff),
        }
    return names


def random_released_state(cfg: ModelConfig = CFG, seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in released_names(cfg).items():
        noise = torch.randn(shape, generator=gen)
        fan_in = shape[1] * shape[2] * shape[3] if len(shape) == 4 else shape[-1]
        state[name] = 1 + 0.2 * noise if len(shape) == 1 and "weight" in name else noise / fan_in**0.5
    return state


def llama_config(cfg: ModelConfig, attn: str = "eager") -> LlamaConfig:
    return LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.d_ff,
        num_hidden_layers=cfg.n_layer,
        num_attention_heads=cfg.n_head,
        num_key_value_heads=cfg.n_kv_head,
        hidden_act="silu",
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=False,
        attn_implementation=attn,
    )


def llama_from_ours(model: PixelTextGPT, attn: str = "eager") -> LlamaForCausalLM:
    """A transformers Llama holding our text-side weights; the renames are spelled out here, by hand."""
    renames = [
        ("blocks.", "model.layers."),
        (".attn_norm.", ".input_layernorm."),
        (".mlp_norm.", ".post_attention_layernorm."),
        (".attn.", ".self_attn."),
        ("token_embedding.", "model.embed_tokens."),
        ("token_head.", "lm_head."),
    ]
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith(("patch_embedding.", "pixel_head.")):
            continue
        name = "model.norm.weight" if name == "norm.weight" else name
        for old, new in renames:
            name = name.replace(old, new)
        state[name] = tensor
    llama = LlamaForCausalLM(llama_config(model.config, attn)).eval()
    llama.load_state_dict(state, strict=True)
    return llama


def llama_from_released(state: dict[str, torch.Tensor], cfg: ModelConfig) -> LlamaForCausalLM:
    """The released decoder as a transformers Llama: its names are Llama's, bar the patch parts and heads."""
    text = {k: v for k, v in state.items() if k.startswith("model.") and not k.startswith(PATCH)}
    text["lm_head.weight"] = state["lm_token_head.weight"]
    llama = LlamaForCausalLM(llama_config(cfg)).eval()
    llama.load_state_dict(text, strict=True)
    return llama


def right_padded_ids(lengths: list[int], vocab: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (len(lengths), max(lengths)), generator=gen)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return ids, mask.long()


def random_patches(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    patches = torch.randint(0, 256, (len(lengths), max(lengths), 16, 16, 3), generator=gen, dtype=torch.uint8)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return patches, mask.long()


def max_diff_at(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    return (a - b)[mask.bool()].abs().max().item()


def strip_image(patches: torch.Tensor) -> torch.Tensor:
    """(B, n, 16, 16, 3) uint8 patches -> the released model's input: (B, 3, 16, 16 n) floats in [0, 1]."""
    b, n, p, _, c = patches.shape
    return (patches.float() / 255).permute(0, 4, 2, 1, 3).reshape(b, c, p, n * p)


def released_patch_embedding(state: dict[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """The released PixelEmbedding recomputed: conv 16x16 stride 16, flatten to a sequence, LayerNorm."""
    w, b = state[f"{PATCH}.projection.weight"], state[f"{PATCH}.projection.bias"]
    x = F.conv2d(image, w, b, stride=16).flatten(2).transpose(1, 2)
    return F.layer_norm(x, (w.shape[0],), state[f"{PATCH}.norm.weight"], state[f"{PATCH}.norm.bias"])


# -------------------------------------------------------------------------- our decoder vs transformers Llama


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("ours", ["sdpa", "naive"])
def test_text_logits_match_transformers_llama(attn, ours):
    model = random_model(ModelConfig.from_dict({**CFG.to_dict(), "attention": ours}))
    llama = llama_from_ours(model, attn)
    ids, mask = right_padded_ids([12, 7, 3], CFG.vocab_size)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).token_logits
        ref = llama(input_ids=ids, attention_mask=mask).logits
    assert ref.abs().max() > 1.0  # the comparison is not between two near-zero tensors
    assert max_diff_at(logits, ref, mask) < TOL


def test_pixel_hidden_states_match_llama_on_patch_embeddings():
    model = random_model()
    llama = llama_from_ours(model)
    patches, mask = random_patches([6, 4])
    with torch.no_grad():
        hidden = model(patches=patches, patch_mask=mask).hidden_states
        embeds = model.patch_embedding(model._patch_values(patches))
        out = llama(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True)
    assert max_diff_at(hidden, out.hidden_states[-1], mask) < TOL


def test_pair_hidden_states_and_logits_match_llama():
    """[patch embeddings][token embeddings], patch padding in the middle: Llama's positions also run on."""
    model = random_model()
    llama = llama_from_ours(model)
    patches, patch_mask = random_patches([5, 3], seed=1)
    ids, text_mask = right_padded_ids([4, 6], CFG.vocab_size, seed=1)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=text_mask, patches=patches, patch_mask=patch_mask)
        embeds = torch.cat(
            [model.patch_embedding(model._patch_values(patches)), model.token_embedding(ids)], 1
        )
        mask = torch.cat([patch_mask, text_mask], dim=1)
        ref = llama(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True)
    assert max_diff_at(out.hidden_states, ref.hidden_states[-1], mask) < TOL
    n = patches.shape[1]
    assert max_diff_at(out.token_logits, ref.logits[:, n:], text_mask) < TOL


# ------------------------------------------------------------------------------------ released <-> ours


def test_released_patch_embedding_and_outputs_match_an_independent_computation():
    released = random_released_state()
    model = randomize(PixelTextGPT(CFG))
    model.load_state_dict(released_to_ours(released, CFG), strict=True)
    patches, mask = random_patches([5, 5], seed=2)

    with torch.no_grad():
        ref_embeds = released_patch_embedding(released, strip_image(patches))
        ours_embeds = model.patch_embedding(model._patch_values(patches))
        assert (ours_embeds - ref_embeds).abs().max().item() < 1e-5

        # the released forward, pixels only: its embedding, the Llama decoder, lm_pixel_head
        hidden = llama_from_released(released, CFG)(inputs_embeds=ref_embeds, output_hidden_states=True)
        ref_pred = hidden.hidden_states[-1] @ released["lm_pixel_head.weight"].T
        out = model(patches=patches)
    assert (out.hidden_states - hidden.hidden_states[-1]).abs().max().item() < TOL
    assert (out.patch_pred - ref_pred).abs().max().item() < TOL


def test_released_ours_round_trip_is_exact():
    released = random_released_state()
    back = ours_to_released(released_to_ours(released, CFG), CFG)
    assert back.keys() == released.keys()
    for name, tensor in released.items():
        assert torch.equal(back[name], tensor), name
    ours = random_model().state_dict()
    again = released_to_ours(ours_to_released(ours, CFG), CFG)
    assert all(torch.equal(again[k], v) for k, v in ours.items()) and again.keys() == ours.keys()


def test_conv_weight_maps_to_row_column_channel_inputs():
    """Conv weight W[o, c, r, k] reads patch value (r, k, c): our Linear input (r * 16 + k) * 3 + c."""
    released = random_released_state()
    ours = released_to_ours(released, CFG)["patch_embedding.proj.weight"]
    conv = released[f"{PATCH}.projection.weight"]
    for o, c, r, k in [(0, 0, 0, 0), (5, 2, 3, 11), (63, 1, 15, 15)]:
        assert ours[o, (r * 16 + k) * 3 + c] == conv[o, c, r, k]


def test_non_parameter_buffers_are_ignored():
    released = random_released_state()
    released["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)  # older transformers saved it
    assert "model.layers.0.self_attn.rotary_emb.inv_freq" not in ours_to_released(
        released_to_ours(released, CFG), CFG
    )


def test_missing_extra_and_misshaped_tensors_are_all_named():
    released = random_released_state()
    del released["model.layers.1.self_attn.k_proj.weight"]
    del released[f"{PATCH}.norm.bias"]
    released["model.layers.0.extra.weight"] = torch.zeros(3)
    released["lm_pixel_head.weight"] = torch.zeros(767, CFG.d_model)
    with pytest.raises(CheckpointError) as err:
        released_to_ours(released, CFG)
    message = str(err.value)
    for name in (
        "model.layers.1.self_attn.k_proj.weight",
        f"{PATCH}.norm.bias",
        "model.layers.0.extra.weight",
        "lm_pixel_head.weight (767, 64)",
    ):
        assert name in message, message
    assert isinstance(err.value, ValueError)


def test_ours_to_released_names_bad_tensors():
    ours = random_model().state_dict()
    del ours["blocks.0.mlp.up_proj.weight"]
    ours["pixel_head.weight"] = torch.zeros(1, 1)
    with pytest.raises(CheckpointError, match=r"blocks\.0\.mlp\.up_proj\.weight.*pixel_head\.weight"):
        ours_to_released(ours, CFG)


def test_released_tensor_names_are_the_released_models():
    model = random_model()
    state = ours_to_released(model.state_dict(), CFG)
    assert {k: tuple(v.shape) for k, v in state.items()} == released_names(CFG)


# ------------------------------------------------------------------------------------------- configs


def test_config_round_trip_and_released_fields():
    released = model_config_to_released(CFG)
    assert released["model_type"] == "ernie-pixel" and released["architectures"] == ["ErniePixelForCausalLM"]
    assert released["image_size"] == [16, 16384] and released["norm_pix_loss"] is True
    assert released["tie_word_embeddings"] is False and released["torch_dtype"] == "float32"
    assert (released["bos_token_id"], released["eos_token_id"]) == (1, 2)
    assert released_config_to_model_config(json.loads(json.dumps(released))) == CFG


def test_logged_paper_config_maps_to_the_paper_model():
    """The pixel-only checkpoint's logged config (docs/paper-facts.md: Model), as a config.json holds it."""
    logged = {
        "_name_or_path": "meta-llama/Llama-2-7b-hf",
        "architectures": ["ErniePixelForCausalLM"],
        "model_type": "ernie-pixel",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 1024,
        "image_size": [16, 16384],
        "initializer_range": 0.02,
        "intermediate_size": 2816,
        "max_position_embeddings": 1024,
        "norm_pix_loss": True,
        "num_attention_heads": 16,
        "num_channels": 3,
        "num_hidden_layers": 24,
        "num_key_value_heads": 8,
        "patch_size": 16,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.36.2",
        "use_cache": True,
        "vocab_size": 32000,
    }
    assert released_config_to_model_config(logged) == ModelConfig.paper()
    assert {k: v for k, v in model_config_to_released(ModelConfig.paper()).items() if k in logged} == {
        k: v for k, v in logged.items() if not k.startswith(("_", "transformers"))
    }


def test_absent_config_fields_take_the_released_class_defaults():
    minimal = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4}
    cfg = released_config_to_model_config({**minimal, "vocab_size": 100})
    assert (cfg.n_kv_head, cfg.norm_eps, cfg.rope_theta, cfg.max_seq_len) == (4, 1e-6, 10000.0, 2048)


@pytest.mark.parametrize(
    "key, value",
    [
        ("rope_scaling", {"type": "linear", "factor": 2.0}),
        ("tie_word_embeddings", True),
        ("attention_bias", True),
        ("hidden_act", "gelu"),
        ("model_type", "llama"),
    ],
)
def test_unsupported_config_fields_are_refused_by_name(key, value):
    with pytest.raises(ValueError, match=key):
        released_config_to_model_config({**model_config_to_released(CFG), key: value})


def test_paper_config_has_the_released_parameter_count():
    cfg = ModelConfig.paper()
    with torch.device("meta"):
        model = PixelTextGPT(cfg)
    released = ours_to_released(model.state_dict(), cfg)
    assert sum(t.numel() for t in released.values()) == 350_277_632
    assert tuple(released[f"{PATCH}.projection.weight"].shape) == (1024, 3, 16, 16)
    assert tuple(released["lm_token_head.weight"].shape) == (32000, 1024)
    assert tuple(released["lm_pixel_head.weight"].shape) == (768, 1024)


# --------------------------------------------------------------------------------------------- directories


def _as_bin(directory):
    state = load_file(str(directory / "model.safetensors"))
    torch.save(state, directory / "pytorch_model.bin")
    (directory / "model.safetensors").unlink()


def _as_shards(directory):
    """Two shards and the index transformers writes for them."""
    state = load_file(str(directory / "model.safetensors"))
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for file, part in shards.items():
        save_file({k: state[k] for k in part}, str(directory / file), metadata={"format": "pt"})
        weight_map |= {k: file for k in part}
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    (directory / "model.safetensors").unlink()


@pytest.mark.parametrize("layout", ["safetensors", "pytorch_model.bin", "sharded"])
def test_save_released_load_released_round_trip(tmp_path, layout):
    model = random_model()
    save_released(model, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == model_config_to_released(CFG)
    assert load_file(str(tmp_path / "model.safetensors")).keys() == released_names(CFG).keys()
    {"pytorch_model.bin": _as_bin, "sharded": _as_shards}.get(layout, lambda d: None)(tmp_path)
    loaded = load_released(tmp_path)
    assert loaded.config == CFG
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_load_released_names_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        load_released(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_released(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(model_config_to_released(CFG)))
    with pytest.raises(FileNotFoundError, match="no weights found"):
        load_released(tmp_path)


def test_export_llama_loads_in_transformers_and_gives_our_logits(tmp_path):
    model = random_model()
    export_llama(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "llama" and config["architectures"] == ["LlamaForCausalLM"]
    llama, info = LlamaForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert llama.dtype == torch.float32
    ids, mask = right_padded_ids([9, 5], CFG.vocab_size, seed=3)
    with torch.no_grad():
        ref = llama.eval()(input_ids=ids, attention_mask=mask).logits
        logits = model(input_ids=ids, attention_mask=mask).token_logits
    assert max_diff_at(logits, ref, mask) < TOL
