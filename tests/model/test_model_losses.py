"""NTP and NPP against hand computations (plain Python arithmetic, float64)."""

import math
import statistics

import pytest
import torch

from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.model.losses import next_patch_loss, next_token_loss, normalize_patches


def hand_normalize(values: list[float]) -> list[float]:
    mean, var = statistics.fmean(values), statistics.variance(values)  # variance: unbiased (n - 1)
    return [(v - mean) / math.sqrt(var + 1e-6) for v in values]


def test_npp_loss_equals_hand_computation():
    g = torch.Generator().manual_seed(1)
    patches = torch.rand(1, 4, 768, generator=g, dtype=torch.float64)
    patches[0, 2] = 1.0  # a uniform (white) patch normalises to all zeros
    pred = torch.randn(1, 4, 768, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0]])  # the last patch is padding: no target there
    per_target = []
    for t in (0, 1):  # predictions at t=0,1 vs targets 1,2; target 3 is masked out
        target = hand_normalize(patches[0, t + 1].tolist())
        per_target.append(statistics.fmean((p - q) ** 2 for p, q in zip(pred[0, t].tolist(), target)))
    want = statistics.fmean(per_target)
    got = next_patch_loss(pred, patches, mask)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(want, rel=1e-5)
    assert torch.count_nonzero(normalize_patches(patches[0, 2])) == 0


def test_ntp_loss_equals_hand_computation_and_ignores_padding():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 5, generator=g)
    ids = torch.tensor([[1, 3, 0, 4], [2, 2, -100, 7]])  # padded ids may be garbage
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    terms = []
    for b, j in [(0, 1), (0, 2), (0, 3), (1, 1)]:  # targets j predicted at j - 1
        row = logits[b, j - 1].tolist()
        terms.append(math.log(sum(math.exp(v) for v in row)) - row[ids[b, j]])
    assert next_token_loss(logits, ids, mask).item() == pytest.approx(statistics.fmean(terms), rel=1e-5)


def test_pair_first_token_is_predicted_from_the_last_real_patch():
    torch.manual_seed(0)
    m = PixelTextGPT(ModelConfig.tiny())
    ids = torch.randint(0, 512, (2, 5))
    patches = torch.randint(0, 256, (2, 6, 16, 16, 3), dtype=torch.uint8)
    pmask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    out = m(input_ids=ids, patches=patches, patch_mask=pmask)
    last_real = [2, 5]  # by hand from pmask
    terms = []
    for b in range(2):
        rows = [m.token_head(out.hidden_states[b, last_real[b]])] + [out.token_logits[b, j] for j in range(4)]
        for j in range(5):
            row = rows[j].tolist()
            terms.append(math.log(sum(math.exp(v) for v in row)) - row[ids[b, j]])
    assert out.text_loss.item() == pytest.approx(statistics.fmean(terms), rel=1e-5)
    assert out.loss.item() == pytest.approx(out.text_loss.item() + out.pixel_loss.item(), rel=1e-6)


def test_losses_are_float32_under_bf16_autocast():
    torch.manual_seed(0)
    m = PixelTextGPT(ModelConfig.tiny())
    ids = torch.randint(0, 512, (2, 8))
    patches = torch.randint(0, 256, (2, 4, 16, 16, 3), dtype=torch.uint8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(input_ids=ids, patches=patches)
    assert out.token_logits.dtype == torch.bfloat16  # the matmuls did run in bf16
    for loss in (out.loss, out.text_loss, out.pixel_loss):
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
    out.loss.backward()
