"""The classifier: the position it reads under right padding (all three modalities), the released code's
channel averaging for gray/binary input, and the parameter count without the LM heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_backbone

from pixelgpt.dataset.tokenizers import ByteTokenizer
from pixelgpt.finetune.inputs import Collator, Encoder, FinetuneDataset, apply_render_mode
from pixelgpt.finetune.model import PixelTextClassifier, last_positions
from pixelgpt.finetune.readers import Example
from pixelgpt.renderer import RendererConfig

TEXTS = [
    ("Alice painted the red boat at home.", "Alice smiled."),
    ("Bruno sold the very old chair by the lake near the shop today.", "Chloe waited quietly for him."),
]


@pytest.fixture(scope="module")
def classifier() -> PixelTextClassifier:
    torch.manual_seed(1)
    return PixelTextClassifier(tiny_backbone(seed=1), num_labels=3).eval()


def batches(modality: str):
    enc = Encoder(modality, tokenizer=ByteTokenizer(), renderer_config=RendererConfig(), max_tokens=96,
                  max_patches=48)  # fmt: skip
    data = FinetuneDataset([Example(texts=t, label=0, idx=i) for i, t in enumerate(TEXTS)], enc)
    collate = Collator(enc)
    together = collate([data[0], data[1]])
    alone = [collate([data[0]]), collate([data[1]])]
    return together, alone


def inputs(batch):
    return {k: batch[k] for k in ("input_ids", "attention_mask", "patches", "patch_mask") if k in batch}


@pytest.mark.parametrize("modality", ["text", "pixel", "pair"])
def test_padded_and_unpadded_rows_give_the_logits_they_give_alone(classifier, modality):
    together, alone = batches(modality)
    mask_key = "patch_mask" if modality == "pixel" else "attention_mask"
    assert not together[mask_key][0].all() and together[mask_key][1].all()  # row 0 padded, row 1 not
    with torch.no_grad():
        both = classifier(**inputs(together))
        single = torch.cat([classifier(**inputs(b)) for b in alone])
    torch.testing.assert_close(both, single, atol=2e-5, rtol=1e-4)


def test_the_head_reads_the_end_patch_and_the_last_real_token():
    am = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    pm = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    ids, patches = torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 3, 16, 16, 3, dtype=torch.uint8)
    assert last_positions(ids, am).tolist() == [2, 4]  # text
    assert last_positions(patches=patches, patch_mask=pm).tolist() == [1, 2]  # pixel: the end patch
    # pair: the last real TEXT token, after the (padded) image: 3 + 2, 3 + 4
    assert last_positions(ids, am, patches, pm).tolist() == [5, 7]
    no_text = torch.zeros_like(am)
    assert last_positions(ids, no_text, patches, pm).tolist() == [1, 2]  # falls back to the end patch


def test_pair_logits_depend_on_the_last_token_not_on_padding(classifier):
    together, _ = batches("pair")
    x = inputs(together)
    with torch.no_grad():
        base = classifier(**x)
        ids = x["input_ids"].clone()
        ids[0, ~x["attention_mask"][0]] = 7  # padded slots: no effect
        torch.testing.assert_close(classifier(**{**x, "input_ids": ids}), base)
        last = int(x["attention_mask"][0].sum()) - 1
        ids[0, last] = (ids[0, last] + 1) % 256  # the token the head reads: an effect
        assert not torch.allclose(classifier(**{**x, "input_ids": ids})[0], base[0])


@pytest.mark.parametrize("mode", ["gray", "binary"])
def test_grey_input_equals_the_released_channel_averaged_conv(mode):
    """The released code swaps the 3-channel patch conv for a 1-channel conv with the channel-mean kernel and
    feeds it the grey (or binary) image in [0, 1]; our Linear over (row, col, channel), given the grey value
    in every channel scaled by 1/3 (grey_input=True), computes the same."""
    model = PixelTextClassifier(tiny_backbone(seed=2), num_labels=2, grey_input=True)
    proj = model.backbone.patch_embedding.proj
    d = proj.out_features
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(2, 5, 16, 16, 3), dtype=np.uint8)
    patches = torch.from_numpy(apply_render_mode(rgb, mode))

    # the released conv: weight (d, 3, 16, 16) from our (d, 16*16*3) Linear, averaged over channels
    kernel = proj.weight.detach().reshape(d, 16, 16, 3).permute(0, 3, 1, 2).mean(dim=1, keepdim=True)
    conv = torch.nn.Conv2d(1, d, kernel_size=16, stride=16)
    conv.weight.data, conv.bias.data = kernel.clone(), proj.bias.detach().clone()
    grey = patches[..., 0].float() / 255.0  # (B, n, 16, 16): one channel; binary is {0, 1}
    image = grey.permute(0, 2, 1, 3).reshape(2, 1, 16, 5 * 16)  # the strip, patches left to right
    want = conv(image).flatten(2).transpose(1, 2)  # (B, n, d)

    values = model.backbone._patch_values(patches) / 3.0  # what hidden_states feeds the projection
    torch.testing.assert_close(proj(values), want, atol=1e-5, rtol=1e-5)
    # and the classifier really applies the scaling: without grey_input its output differs
    with torch.no_grad():
        grey_out = model(patches=patches)
        model.grey_input = False
        assert not torch.allclose(model(patches=patches), grey_out)


def test_parameter_count_is_backbone_plus_head():
    backbone = tiny_backbone()
    counts = backbone.parameter_counts()
    model = PixelTextClassifier(backbone, num_labels=3)
    assert sum(p.numel() for p in model.parameters()) == counts["backbone"] + 3 * backbone.config.d_model
    assert model.backbone.token_head is None and model.backbone.pixel_head is None
    with pytest.raises(ValueError, match="num_labels"):
        PixelTextClassifier(tiny_backbone(), num_labels=0)
