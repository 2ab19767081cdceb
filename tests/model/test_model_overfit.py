"""tiny() memorises one fixed batch of each modality: the loss falls by at least 90%."""

import pytest
import torch

from pixelgpt.model import ModelConfig, PixelTextGPT


def glyph_patches(b: int, n: int, g: torch.Generator) -> torch.Tensor:
    """Black 4x4-pixel blocks on white, like ink on a rendered strip, and a black end patch."""
    ink = (torch.rand(b, n, 4, 4, generator=g) < 0.35).repeat_interleave(4, 2).repeat_interleave(4, 3)
    x = torch.full((b, n, 16, 16, 3), 255, dtype=torch.uint8)
    x[ink] = 0
    x[:, -1] = 0
    return x


@pytest.mark.parametrize("mode", ["text", "pixel", "pair"])
def test_tiny_overfits_one_batch(mode):
    g = torch.Generator().manual_seed(0)
    ids, patches = torch.randint(0, 512, (4, 24), generator=g), glyph_patches(4, 16, g)
    inputs = {"text": dict(input_ids=ids), "pixel": dict(patches=patches)}
    inputs["pair"] = dict(input_ids=ids[:, :12], patches=patches)
    torch.manual_seed(0)
    model = PixelTextGPT(ModelConfig.tiny())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    losses = []
    for _ in range(300):  # typically done after 20 (text, pixels) to 110 (pair) steps
        loss = model(**inputs[mode]).loss
        losses.append(loss.item())
        if losses[-1] <= 0.1 * losses[0]:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] <= 0.1 * losses[0], (losses[0], losses[-1], len(losses))
