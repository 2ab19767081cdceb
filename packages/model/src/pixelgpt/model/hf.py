"""Hugging Face layouts: load the paper's released checkpoints, save ours in that layout, export a Llama.

The released repos (baidu/PixelGPT, baidu/MonoGPT, baidu/DualGPT) hold an `ErniePixelForCausalLM`: a
config.json with Llama fields plus image fields, and HF-Llama tensor names plus a conv patch embedding and two
heads (docs/paper-facts.md: Model). This module maps those names and shapes to PixelTextGPT's and back,
exactly (only renames and one permutation, no arithmetic), and writes a text-only `LlamaForCausalLM` directory
for tools that know Llama.

Only torch and safetensors are needed: transformers is never imported here.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pixelgpt.model.config import ConfigError, ModelConfig
from pixelgpt.model.model import PixelTextGPT

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_FILE = "pytorch_model.bin"
BIN_INDEX = "pytorch_model.bin.index.json"

# Where the released names come from (the released modeling code, read on GitHub): ErniePixelForCausalLM
# holds `model` (an ErniePixelModel) and the heads `lm_token_head` / `lm_pixel_head`; ErniePixelModel holds
# `embed_tokens`, `layers` and `norm` as HF Llama does, plus `embed_patches`, the released patch-embedding
# module's PixelEmbedding, whose `patch_embeddings` (a ViTPatchEmbeddings) holds the Conv2d `projection` and
# the LayerNorm `norm`: hence model.embed_patches.patch_embeddings.norm.{weight,bias}.
PATCH_PREFIX = "model.embed_patches.patch_embeddings"
TOKEN_HEAD = "lm_token_head.weight"
PIXEL_HEAD = "lm_pixel_head.weight"

# Released-checkpoint tensors that are not parameters: the RoPE tables of HF Llama. transformers >= 4.31 keeps
# them out of the state dict (non-persistent buffers), but checkpoints saved by older versions carry
# `rotary_emb.inv_freq`; they are recomputed from rope_theta, so they are accepted and dropped.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq", "rotary_emb.cos_cached", "rotary_emb.sin_cached")


class CheckpointError(ValueError):
    """A state dict or checkpoint directory that does not fit the config; the message names every offender."""


# ------------------------------------------------------------------------------------------------- config


def released_config_to_model_config(cfg: dict[str, Any]) -> ModelConfig:
    """A released config.json (ErniePixelConfig fields) -> ModelConfig.

    Absent fields take the released class defaults (e.g. rms_norm_eps 1e-6, num_key_value_heads =
    num_attention_heads). Fields our decoder cannot express (biases, RoPE scaling, tied heads, another
    activation) raise ConfigError rather than being silently dropped. image_size is not needed: our patch
    embedding, like the released conv, takes strips of any width.
    """
    model_type = cfg.get("model_type", "ernie-pixel")
    if model_type != "ernie-pixel":
        raise ConfigError(f"model_type: want 'ernie-pixel', got {model_type!r}")
    unsupported = {
        "hidden_act": (cfg.get("hidden_act", "silu"), "silu"),
        "attention_bias": (cfg.get("attention_bias", False), False),
        "mlp_bias": (cfg.get("mlp_bias", False), False),
        "rope_scaling": (cfg.get("rope_scaling"), None),
        "tie_word_embeddings": (cfg.get("tie_word_embeddings", False), False),
    }
    for key, (got, want) in unsupported.items():
        if got != want:
            raise ConfigError(f"{key}: only {want!r} is supported, got {got!r}")
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        if key not in cfg:
            raise ConfigError(f"{key}: missing from the released config")
    n_head = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim")
    if head_dim is not None and head_dim * n_head != cfg["hidden_size"]:
        raise ConfigError(f"head_dim: only hidden_size / num_attention_heads is supported, got {head_dim}")
    return ModelConfig.from_dict(
        {
            "n_layer": cfg["num_hidden_layers"],
            "d_model": cfg["hidden_size"],
            "n_head": n_head,
            "n_kv_head": cfg.get("num_key_value_heads") or n_head,
            "d_ff": cfg["intermediate_size"],
            "vocab_size": cfg["vocab_size"],
            "rope_theta": cfg.get("rope_theta", 10000.0),
            "norm_eps": cfg.get("rms_norm_eps", 1e-6),
            "patch_size": cfg.get("patch_size", 16),
            "channels": cfg.get("num_channels", 3),
            "init_std": cfg.get("initializer_range", 0.02),
            "max_seq_len": cfg.get("max_position_embeddings", 2048),
        }
    )


def _llama_fields(cfg: ModelConfig) -> dict[str, Any]:
    """The fields a released config and a Llama config share, in HF names."""
    return {
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.n_kv_head,
        "hidden_act": "silu",
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None,
        "max_position_embeddings": cfg.max_seq_len,
        "vocab_size": cfg.vocab_size,
        "initializer_range": cfg.init_std,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "pretraining_tp": 1,
        "tie_word_embeddings": False,
        "bos_token_id": 1,  # Llama-2 tokenizer ids, as in the released config
        "eos_token_id": 2,
        "use_cache": True,
    }


def model_config_to_released(cfg: ModelConfig, torch_dtype: str = "float32") -> dict[str, Any]:
    """ModelConfig -> a complete released-style config.json (what baidu/PixelGPT ships)."""
    return {
        "architectures": ["ErniePixelForCausalLM"],
        "model_type": "ernie-pixel",
        **_llama_fields(cfg),
        "image_size": [cfg.patch_size, cfg.patch_size * 1024],  # the pretraining strip: 1024 patches
        "patch_size": cfg.patch_size,
        "num_channels": cfg.channels,
        "norm_pix_loss": True,
        "torch_dtype": torch_dtype,
    }


# ------------------------------------------------------------------------------------------ tensor names


def _name_pairs(cfg: ModelConfig) -> list[tuple[str, str]]:
    """(our name, released name) for every parameter."""
    pairs = [
        ("token_embedding.weight", "model.embed_tokens.weight"),
        ("patch_embedding.proj.weight", f"{PATCH_PREFIX}.projection.weight"),
        ("patch_embedding.proj.bias", f"{PATCH_PREFIX}.projection.bias"),
        ("patch_embedding.norm.weight", f"{PATCH_PREFIX}.norm.weight"),
        ("patch_embedding.norm.bias", f"{PATCH_PREFIX}.norm.bias"),
    ]
    for i in range(cfg.n_layer):
        ours, theirs = f"blocks.{i}", f"model.layers.{i}"
        pairs.append((f"{ours}.attn_norm.weight", f"{theirs}.input_layernorm.weight"))
        pairs.append((f"{ours}.mlp_norm.weight", f"{theirs}.post_attention_layernorm.weight"))
        pairs += [(f"{ours}.attn.{p}.weight", f"{theirs}.self_attn.{p}.weight") for p in ("q_proj", "k_proj")]
        pairs += [(f"{ours}.attn.{p}.weight", f"{theirs}.self_attn.{p}.weight") for p in ("v_proj", "o_proj")]
        pairs += [(f"{ours}.mlp.{p}.weight", f"{theirs}.mlp.{p}.weight") for p in ("gate_proj", "up_proj")]
        pairs.append((f"{ours}.mlp.down_proj.weight", f"{theirs}.mlp.down_proj.weight"))
    pairs += [
        ("norm.weight", "model.norm.weight"),
        ("token_head.weight", TOKEN_HEAD),
        ("pixel_head.weight", PIXEL_HEAD),
    ]
    return pairs


def our_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Our parameter name -> shape, read off a model built on the meta device (allocates nothing)."""
    with torch.device("meta"):
        model = PixelTextGPT(cfg)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def _conv_shape(cfg: ModelConfig) -> tuple[int, ...]:
    return (cfg.d_model, cfg.channels, cfg.patch_size, cfg.patch_size)


def released_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    ours = our_shapes(cfg)
    shapes = {theirs: ours[name] for name, theirs in _name_pairs(cfg)}
    shapes[f"{PATCH_PREFIX}.projection.weight"] = _conv_shape(cfg)
    return shapes


# The only tensor whose layout differs. Conv weight W[o, c, r, k] multiplies pixel (row r, column k, channel
# c); our Linear reads a patch flattened (row, column, channel) (PixelTextGPT._patch_values), so input index
# (r * P + k) * C + c. A permute + reshape, hence exact both ways.
def conv_to_linear(weight: torch.Tensor) -> torch.Tensor:
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1).contiguous()


def linear_to_conv(weight: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    d, c, p = cfg.d_model, cfg.channels, cfg.patch_size
    return weight.reshape(d, p, p, c).permute(0, 3, 1, 2).contiguous()


def check_state(
    state: dict[str, torch.Tensor],
    expected: dict[str, tuple[int, ...]],
    what: str,
    ignore: Callable[[str], bool] = lambda name: False,
) -> None:
    """Raise CheckpointError naming every missing, unexpected and mis-shaped tensor (not only the first)."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(k for k in state if k not in expected and not ignore(k))
    bad = [
        f"{k} {tuple(state[k].shape)} (want {expected[k]})"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != expected[k]
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {', '.join(unexpected)}")
    if bad:
        problems.append(f"mis-shaped {len(bad)}: {', '.join(bad)}")
    if problems:
        raise CheckpointError(f"{what}: " + "; ".join(problems))


def _is_ignored_released(name: str) -> bool:
    return name.endswith(IGNORED_SUFFIXES)


def released_to_ours(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """A released ErniePixelForCausalLM state dict -> PixelTextGPT's (dtypes kept)."""
    check_state(state, released_shapes(cfg), "released checkpoint", ignore=_is_ignored_released)
    out = {name: state[theirs] for name, theirs in _name_pairs(cfg)}
    out["patch_embedding.proj.weight"] = conv_to_linear(out["patch_embedding.proj.weight"])
    return out


def ours_to_released(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """PixelTextGPT's state dict -> the released ErniePixelForCausalLM names and shapes (dtypes kept)."""
    check_state(state, our_shapes(cfg), "PixelTextGPT state")
    out = {theirs: state[name] for name, theirs in _name_pairs(cfg)}
    conv = f"{PATCH_PREFIX}.projection.weight"
    out[conv] = linear_to_conv(out[conv], cfg)
    return out


# ------------------------------------------------------------------------------------------ directories


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def _read_weight_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.name.endswith(".bin"):
            # weights_only: a pickle from the Hub must not run code
            return torch.load(path, map_location="cpu", weights_only=True)
        return load_file(str(path))
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError) as e:
        raise CheckpointError(f"{path}: cannot read weights ({str(e).splitlines()[0]})") from None


def _read_sharded(index_path: Path) -> dict[str, torch.Tensor]:
    """A sharded checkpoint: the index maps tensor name -> shard file; each shard is read once."""
    weight_map = _read_json(index_path).get("weight_map")
    if not isinstance(weight_map, dict):
        raise CheckpointError(f"{index_path}: no 'weight_map' object")
    state = {}
    for shard in sorted(set(weight_map.values())):
        shard_path = index_path.parent / shard
        if not shard_path.is_file():
            raise FileNotFoundError(f"{shard_path}: shard named in {index_path.name} is missing")
        state.update(_read_weight_file(shard_path))
    return state


def read_released_state(directory: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a released-layout directory, whichever of the HF weight files it holds."""
    directory = Path(directory)
    for name in (SAFETENSORS_FILE, BIN_FILE):
        if (directory / name).is_file():
            return _read_weight_file(directory / name)
    for name in (SAFETENSORS_INDEX, BIN_INDEX):
        if (directory / name).is_file():
            return _read_sharded(directory / name)
    wanted = ", ".join((SAFETENSORS_FILE, SAFETENSORS_INDEX, BIN_FILE, BIN_INDEX))
    raise FileNotFoundError(f"{directory}: no weights found (want one of {wanted})")


def _require_dir(directory: Path) -> None:
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")


def load_released(directory: str | Path, device: str | torch.device = "cpu") -> PixelTextGPT:
    """A released Hub-layout directory (config.json + weights) -> PixelTextGPT."""
    directory = Path(directory)
    _require_dir(directory)
    if not (directory / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{directory / CONFIG_FILE}: missing")
    cfg = released_config_to_model_config(_read_json(directory / CONFIG_FILE))
    return model_from_state(released_to_ours(read_released_state(directory), cfg), cfg, device)


def model_from_state(state: dict[str, torch.Tensor], cfg: ModelConfig, device="cpu") -> PixelTextGPT:
    """Build on the meta device (no random init of 350M weights only to overwrite them), then load."""
    check_state(state, our_shapes(cfg), "PixelTextGPT state")
    with torch.device("meta"):
        model = PixelTextGPT(cfg)
    model = model.to_empty(device=device)
    model.load_state_dict(state, strict=True)
    return model


def _dtype_name(state: dict[str, torch.Tensor]) -> str:
    return str(next(iter(state.values())).dtype).removeprefix("torch.")


def _cpu_state(model: PixelTextGPT) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def _write(directory: str | Path, config: dict[str, Any], state: dict[str, torch.Tensor]) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in state.items()}
    # metadata format=pt: transformers refuses safetensors files without it
    save_file(state, str(directory / SAFETENSORS_FILE), metadata={"format": "pt"})
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return directory


def save_released(model: PixelTextGPT, directory: str | Path) -> Path:
    """Write `model` in the released layout (config.json + model.safetensors), loadable by load_released."""
    state = ours_to_released(_cpu_state(model), model.config)
    return _write(directory, model_config_to_released(model.config, _dtype_name(state)), state)


def export_llama(model: PixelTextGPT, directory: str | Path) -> Path:
    """Write the TEXT side of `model` as a Hugging Face LlamaForCausalLM directory.

    Llama has no patch embedding and no pixel head, so those are left out: the export is a TextGPT (token
    embedding, decoder, final norm, token head as `lm_head`). The decoder itself is the same function.
    """
    released = ours_to_released(_cpu_state(model), model.config)
    state = {k: v for k, v in released.items() if k.startswith("model.") and not k.startswith(PATCH_PREFIX)}
    state["lm_head.weight"] = released[TOKEN_HEAD]
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **_llama_fields(model.config),
        "head_dim": model.config.head_dim,
        "mlp_bias": False,
        "torch_dtype": _dtype_name(state),
    }
    return _write(directory, config, state)
