"""Patch rollout (de-normalisation arithmetic) and the rollout PNG."""

import pytest
import torch

from pixelgpt.model import ModelConfig, PixelTextGPT, generate_patches


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PixelTextGPT(ModelConfig.tiny())


def test_rollout_shape_dtype_and_determinism(model):
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, 256, (2, 5, 16, 16, 3), generator=g, dtype=torch.uint8)
    a = generate_patches(model, prompt, 3)
    assert a.shape == (2, 3, 16, 16, 3) and a.dtype == torch.uint8
    assert torch.equal(a, generate_patches(model, prompt, 3))  # deterministic
    assert generate_patches(model, prompt[0], 2).shape == (2, 16, 16, 3)
    assert model.training  # restored


def test_a_zero_prediction_becomes_the_reference_patch_mean(model):
    """A head predicting the normalised all-zero patch must give a uniform patch at the reference's mean."""
    silent = PixelTextGPT(ModelConfig.tiny())
    silent.load_state_dict(model.state_dict())
    with torch.no_grad():
        silent.pixel_head.weight.zero_()
    prompt = torch.full((1, 3, 16, 16, 3), 255, dtype=torch.uint8)
    prompt[0, 2, :8] = 0  # last prompt patch: half black, half white -> mean 127.5/255
    out = generate_patches(silent, prompt, 2)
    assert torch.all(out == 128)  # round(0.5 * 255) = 127.5 -> 128 (round half to even gives 128)
    out = generate_patches(silent, prompt, 2, denorm="previous")
    assert torch.all(out == 128)  # the previous patch is uniform 128: mean 128, std ~0
    with pytest.raises(ValueError, match="denorm"):
        generate_patches(silent, prompt, 1, denorm="mean")
