"""Decoder layers: RMSNorm, rotary positions, GQA attention, SwiGLU MLP and the pre-norm Block."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention
from torch.utils.checkpoint import checkpoint

from pixelgpt.model.config import ModelConfig


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """At least float32 (bf16/fp16 activations are normalised and rotated in float32)."""
    return x.float() if x.element_size() < 4 else x


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, computed in at least float32."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = _upcast(x)
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.to(y.dtype)).to(x.dtype)


class RotaryEmbedding(nn.Module):
    """cos/sin tables of rotate-half RoPE for positions 0..L-1.

    The tables are a plain cache, not buffers: they never enter a state dict and survive meta-device
    construction followed by `to_empty` (FSDP), because they are recomputed on the device that asks.
    """

    def __init__(self, head_dim: int, theta: float, max_seq_len: int) -> None:
        super().__init__()
        self.head_dim, self.theta, self.max_seq_len = head_dim, theta, max_seq_len
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, seq_len: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        cache = self._cache
        if cache is None or cache[0].device != device or cache[0].shape[0] < seq_len:
            length = max(seq_len, self.max_seq_len, 2 * cache[0].shape[0] if cache is not None else 0)
            inv_freq = 1.0 / self.theta ** (
                torch.arange(0, self.head_dim, 2, device=device, dtype=torch.float32) / self.head_dim
            )
            freqs = torch.outer(torch.arange(length, device=device, dtype=torch.float32), inv_freq)
            angles = torch.cat([freqs, freqs], dim=-1)  # (L, head_dim): rotate-half layout
            cache = self._cache = (angles.cos(), angles.sin())
        return cache[0][:seq_len], cache[1][:seq_len]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, T, hd) by position: x*cos + rotate_half(x)*sin, in at least float32. cos/sin are (T, hd)
    (positions 0..T-1) or (B, 1, T, hd) (packed rows: positions restart at each sample)."""
    half = x.shape[-1] // 2
    xf = _upcast(x)
    rotated = torch.cat([-xf[..., half:], xf[..., :half]], dim=-1)
    return (xf * cos + rotated * sin).to(x.dtype)


# How the positions of a row may attend, built once per forward pass by the model:
#   None                 plain causal (one sample per row, right padding at most): the fused SDPA kernels
#   Tensor (B,1,L,L)     bool, True = attend (padding mid-row in a pair, packed rows on the CPU)
#   BlockMask            packed rows on CUDA: FlexAttention skips the blocks no query of a sample needs
AttentionMask = torch.Tensor | BlockMask | None


def document_block_mask(doc: torch.Tensor) -> BlockMask:
    """FlexAttention mask of packed rows: query q sees key k when both lie in the same sample and k <= q.
    doc (B, L) int: the sample index of each position within its row."""
    b, length = doc.shape

    def same_sample_causal(batch, head, q, k):
        return (doc[batch, q] == doc[batch, k]) & (k <= q)

    return create_block_mask(same_sample_causal, b, None, length, length, device=doc.device)


@functools.cache
def _compiled_flex_attention():
    # Eager flex_attention materialises the full score matrix; the fused kernel comes from torch.compile
    # (CUDA only in torch 2.7). Row counts differ between micro-batches, so shapes may vary (dynamic after
    # the first change). Inside an already compiled region the plain function is traced instead.
    return torch.compile(flex_attention)


def flex_attention_gqa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: BlockMask) -> torch.Tensor:
    fn = flex_attention
    if q.is_cuda and not torch.compiler.is_compiling():
        fn = _compiled_flex_attention()
    return fn(q, k, v, block_mask=mask, enable_gqa=True)


def sdpa_gqa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """SDPA over grouped kv heads, causal (mask None) or with a bool mask. Only CUDA's flash kernel takes the
    kv groups as they are (enable_gqa, no mask); with them the CPU kernels and CUDA's masked one fall back to
    the unfused math path (~8x slower on a CPU), so there k and v are expanded to every query head."""
    if mask is None and q.is_cuda:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)


def naive_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Explicit softmax(QK^T/sqrt(d)) V with GQA; mask (B,1,T,T) bool True = attend, None = plain causal."""
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = (_upcast(q) @ _upcast(k).transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if mask is None:
        t = q.shape[-2]
        mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ _upcast(v)).to(q.dtype)


class Attention(nn.Module):
    """Causal grouped-query self-attention with RoPE, no biases."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.kind = cfg.attention
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_head * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_head * cfg.head_dim, cfg.d_model, bias=False)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: AttentionMask
    ) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k = self.k_proj(x).view(b, t, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, Hkv, T, hd)
        v = self.v_proj(x).view(b, t, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if isinstance(mask, BlockMask):
            y = flex_attention_gqa(q, k, v, mask)
        elif self.kind == "sdpa":
            y = sdpa_gqa(q, k, v, mask)
        else:
            y = naive_attention(q, k, v, mask)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.n_head * self.head_dim))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)), no biases."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """Pre-norm decoder layer: x + attn(norm(x)), then x + mlp(norm(x)). The unit FSDP wraps."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)
        # Activation checkpointing: keep only the block's input and recompute its inside in the backward
        # pass. Done inside the module, so that hooks on the block (FSDP's gathers and dtype casts) stay out
        # of the recomputed region.
        self.recompute = False

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: AttentionMask
    ) -> torch.Tensor:
        if self.recompute and torch.is_grad_enabled():
            return checkpoint(self._forward, x, cos, sin, mask, use_reentrant=False)
        return self._forward(x, cos, sin, mask)

    def _forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: AttentionMask
    ) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        return x + self.mlp(self.mlp_norm(x))
