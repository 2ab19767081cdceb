"""RMSNorm, RoPE and GQA attention against naive float64 references written here."""

import math

import numpy as np
import pytest
import torch

from pixelgpt.model import ModelConfig
from pixelgpt.model.layers import Attention, RMSNorm, RotaryEmbedding, apply_rope


def ref_rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    out = np.empty_like(x)
    for idx in np.ndindex(*x.shape[:-1]):
        row = x[idx]
        out[idx] = row / math.sqrt(sum(v * v for v in row) / len(row) + eps) * w
    return out


def ref_rope(x: np.ndarray, positions: np.ndarray, theta: float) -> np.ndarray:
    """Rotate pairs (i, i + d/2) by angle pos * theta^(-2i/d): the Llama rotate-half convention."""
    d = x.shape[-1]
    out = np.empty_like(x)
    for t, pos in enumerate(positions):
        for i in range(d // 2):
            a = pos * theta ** (-2 * i / d)
            x1, x2 = x[..., t, i], x[..., t, i + d // 2]
            out[..., t, i] = x1 * math.cos(a) - x2 * math.sin(a)
            out[..., t, i + d // 2] = x2 * math.cos(a) + x1 * math.sin(a)
    return out


def ref_attention(x, wq, wk, wv, wo, n_head, n_kv, theta, key_valid):
    """Loop-per-head causal GQA attention in float64; query head h reads KV head h // (n_head / n_kv)."""
    b, t, d = x.shape
    hd = d // n_head
    out = np.zeros((b, t, n_head * hd))
    for bi in range(b):
        q = (x[bi] @ wq.T).reshape(t, n_head, hd).transpose(1, 0, 2)
        k = (x[bi] @ wk.T).reshape(t, n_kv, hd).transpose(1, 0, 2)
        v = (x[bi] @ wv.T).reshape(t, n_kv, hd).transpose(1, 0, 2)
        q, k = ref_rope(q, np.arange(t), theta), ref_rope(k, np.arange(t), theta)
        for h in range(n_head):
            kv = h // (n_head // n_kv)
            for i in range(t):
                keys = [j for j in range(i + 1) if key_valid[bi, j] or j == i]
                s = np.array([q[h, i] @ k[kv, j] / math.sqrt(hd) for j in keys])
                p = np.exp(s - s.max())
                p /= p.sum()
                out[bi, i, h * hd : (h + 1) * hd] = sum(pj * v[kv, j] for pj, j in zip(p, keys))
    return out @ wo.T


def test_rmsnorm_matches_reference():
    torch.manual_seed(0)
    norm = RMSNorm(24, eps=1e-5).double()
    with torch.no_grad():
        norm.weight.copy_(torch.randn(24))
    x = torch.randn(3, 5, 24, dtype=torch.float64) * 3
    want = ref_rmsnorm(x.numpy(), norm.weight.detach().numpy(), 1e-5)
    np.testing.assert_allclose(norm(x).detach().numpy(), want, rtol=1e-12, atol=1e-12)


def test_rope_matches_reference_and_grows_its_cache():
    torch.manual_seed(0)
    rope = RotaryEmbedding(head_dim=16, theta=10000.0, max_seq_len=4)
    x = torch.randn(2, 3, 11, 16, dtype=torch.float64)
    cos, sin = rope(11, x.device)  # longer than max_seq_len: the cache extends
    assert cos.shape == (11, 16)
    want = ref_rope(x.numpy(), np.arange(11), 10000.0)
    np.testing.assert_allclose(apply_rope(x, cos, sin).numpy(), want, rtol=1e-5, atol=1e-5)


def test_rope_scores_depend_only_on_relative_position():
    torch.manual_seed(0)
    rope = RotaryEmbedding(head_dim=8, theta=10000.0, max_seq_len=64)
    cos, sin = rope(64, torch.device("cpu"))
    q, k = torch.randn(8), torch.randn(8)
    qs = apply_rope(q.expand(1, 1, 64, 8).contiguous(), cos, sin)[0, 0]
    ks = apply_rope(k.expand(1, 1, 64, 8).contiguous(), cos, sin)[0, 0]
    assert torch.allclose(qs[10] @ ks[7], qs[40] @ ks[37], atol=1e-5)
    assert not torch.allclose(qs[10] @ ks[7], qs[10] @ ks[3], atol=1e-3)


@pytest.mark.parametrize("kind", ["sdpa", "naive"])
@pytest.mark.parametrize("padded", [False, True])
def test_gqa_attention_matches_reference(kind, padded):
    torch.manual_seed(0)
    cfg = ModelConfig.tiny(d_model=32, n_head=4, n_kv_head=2, attention=kind)
    attn = Attention(cfg)
    b, t = 2, 7
    x = torch.randn(b, t, 32)
    key_valid = torch.ones(b, t, dtype=torch.bool)
    mask = None
    if padded:  # row 1: three padded slots in the middle, as in a pair
        key_valid[1, 2:5] = False
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        mask = causal & (key_valid[:, None, None, :] | torch.eye(t, dtype=torch.bool))
    cos, sin = RotaryEmbedding(cfg.head_dim, cfg.rope_theta, 16)(t, x.device)
    got = attn(x, cos, sin, mask).detach().numpy()
    w = {n: p.detach().double().numpy() for n, p in attn.named_parameters()}
    want = ref_attention(
        x.double().numpy(), w["q_proj.weight"], w["k_proj.weight"], w["v_proj.weight"], w["o_proj.weight"],
        4, 2, cfg.rope_theta, key_valid.numpy(),
    )  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
