"""ModelConfig: the one dataclass that sizes the decoder (docs/paper-facts.md: Model)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pixelgpt.config import ConfigError, from_dict

Attention = Literal["sdpa", "naive"]


@dataclass(frozen=True)
class ModelConfig:
    n_layer: int
    d_model: int
    n_head: int
    n_kv_head: int
    d_ff: int
    vocab_size: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    patch_size: int = 16
    channels: int = 3
    init_std: float = 0.02
    max_seq_len: int = 1024  # initial RoPE cache length; the cache grows on demand
    attention: Attention = "sdpa"  # "naive" is the explicit-softmax reference, kept for the bench and tests

    def __post_init__(self) -> None:
        ints = ("n_layer", "d_model", "n_head", "n_kv_head", "d_ff", "vocab_size", "patch_size", "channels")
        for key in (*ints, "max_seq_len"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key}: want a positive int, got {value!r}")
        for key in ("rope_theta", "norm_eps", "init_std"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{key}: want a positive number, got {value!r}")
        if self.attention not in get_args(Attention):
            raise ConfigError(f"attention: want one of {get_args(Attention)}, got {self.attention!r}")
        if self.d_model % self.n_head:
            raise ConfigError(f"n_head: {self.n_head} does not divide d_model {self.d_model}")
        if self.n_head % self.n_kv_head:
            raise ConfigError(f"n_kv_head: {self.n_kv_head} does not divide n_head {self.n_head}")
        if self.head_dim % 2:
            raise ConfigError(f"n_head: head dim d_model/n_head = {self.head_dim} must be even for RoPE")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def patch_dim(self) -> int:
        """Values in one flattened patch: 16 * 16 * 3 = 768."""
        return self.patch_size * self.patch_size * self.channels

    @classmethod
    def paper(cls, **overrides: Any) -> ModelConfig:
        """The paper's 24-layer model (Llama-2 lineage): 316,723,200 backbone, 350,277,632 with heads."""
        base = dict(n_layer=24, d_model=1024, n_head=16, n_kv_head=8, d_ff=2816, vocab_size=32000)
        return cls.from_dict({**base, **overrides})

    @classmethod
    def tiny(cls, **overrides: Any) -> ModelConfig:
        """Two layers, d 128: trains on a CPU in seconds. Vocab 512 fits the dataset's byte tokenizer."""
        base = dict(n_layer=2, d_model=128, n_head=4, n_kv_head=2, d_ff=384, vocab_size=512, max_seq_len=512)
        return cls.from_dict({**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "") -> ModelConfig:
        """Checked keys and types (ints for the float fields, as JSON/YAML may give 10000, become floats)."""
        return from_dict(cls, d, where)
