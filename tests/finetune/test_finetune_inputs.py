"""Fine-tuning inputs: PIXEL's GLUE normalisation, render modes (PIL's grey), pre-rendered strips vs
on-the-fly rendering, token truncation, and right-padded batches."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelgpt.dataset.tokenizers import ByteTokenizer
from pixelgpt.finetune.inputs import (
    Collator,
    Encoder,
    FinetuneDataset,
    apply_render_mode,
    glue_strip_spaces,
    grey_values,
    split_checks,
    truncate_pair,
)
from pixelgpt.finetune.readers import Example
from pixelgpt.renderer import Renderer, RendererConfig


def ex(*texts: str, label=1, idx=0, **kw) -> Example:
    return Example(texts=tuple(texts), label=label, idx=idx, **kw)


def test_glue_strip_spaces_rules_in_order():
    assert glue_strip_spaces("a , b . c ! d ? e # f / g") == "a, b. c! d? e# f/ g"
    assert glue_strip_spaces("he did n't ( really ) [ go ]") == "he didn't (really) [go]"
    # ` "` is removed before `" `: both spaces around a quote go, in that order
    assert glue_strip_spaces('say " hi " now') == 'say"hi"now'
    assert glue_strip_spaces("it ' s") == "it's"
    assert glue_strip_spaces("no change here") == "no change here"


def test_grey_values_match_pil_and_binary_threshold():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(16, 64, 3), dtype=np.uint8)
    want = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(grey_values(rgb), want)
    gray = apply_render_mode(rgb, "gray")
    assert gray.shape == rgb.shape and (gray == want[..., None]).all()
    binary = apply_render_mode(rgb, "binary")
    np.testing.assert_array_equal(binary[..., 0], np.where(want > 127, 255, 0))
    assert set(np.unique(binary)) <= {0, 255}
    assert apply_render_mode(rgb, "rgb") is rgb
    with pytest.raises(ValueError, match="render_mode"):
        apply_render_mode(rgb, "sepia")


def test_prerendered_strip_equals_rendering_cropped_and_padded():
    """A stored strip (wider or narrower than needed) gives the renderer's own patches, and the mask length
    num_patches + 1 is capped at max_patches."""
    cfg = RendererConfig(max_patches=64)
    a, b = "Alice painted the boat .", "Bruno smiled ."
    r = Renderer(cfg).render_pair(glue_strip_spaces(a), glue_strip_spaces(b))  # as the encoder renders
    n = r.num_text_patches + 1
    wide = np.concatenate([r.strip, np.full((16, 300, 3), 255, np.uint8)], axis=1)
    exact = np.array(r.strip)
    for image in (wide, exact):
        example = ex(a, b, image=image, num_patches=r.num_text_patches)
        stored = Encoder("pixel", renderer_config=cfg, max_patches=64, pixel_source="image").encode(example)
        rendered = Encoder("pixel", renderer_config=cfg, max_patches=64, pixel_source="render").encode(
            example
        )
        assert stored.patches.shape == (n, 16, 16, 3)
        np.testing.assert_array_equal(stored.patches, r.patches)
        np.testing.assert_array_equal(rendered.patches, r.patches)
        assert not stored.truncated
    # capped: only max_patches positions, flagged as truncated; a too-narrow strip is padded with white
    short = ex("x", image=exact[:, :32], num_patches=r.num_text_patches)
    enc = Encoder("pixel", renderer_config=cfg, max_patches=8, pixel_source="image").encode(short)
    assert enc.patches.shape == (8, 16, 16, 3) and enc.truncated
    assert (enc.patches[2:] == 255).all()


def test_auto_source_and_checks():
    cfg = RendererConfig(max_patches=32)
    enc = Encoder("pixel", renderer_config=cfg, max_patches=32)
    stored = ex("a", image=np.full((16, 64, 3), 255, np.uint8), num_patches=1)
    assert enc.pixel_source_of(stored) == "image" and enc.pixel_source_of(ex("a")) == "render"
    used, rejected = split_checks(
        [ex("ok"), ex("bad\x00text", idx=1), ex("none", label=None, idx=2)], enc, True
    )
    assert [e.idx for e in used] == [0]
    assert rejected[0][0] == 1 and "cannot render" in rejected[0][1]
    assert rejected[1] == (2, "no label")
    forced = Encoder("pixel", renderer_config=cfg, max_patches=32, pixel_source="image")
    assert "no pre-rendered image" in forced.check(ex("a"))
    assert "want (16, W, 3)" in forced.check(ex("a", image=np.zeros((8, 64, 3), np.uint8), num_patches=1))


def test_token_truncation_longest_first_keeps_specials():
    tok = ByteTokenizer()  # BOS 256 before each segment, like Llama-2's <s> A <s> B
    enc = Encoder("text", tokenizer=tok, max_tokens=10)
    short = enc.encode(ex("ab", "cd"))
    assert short.input_ids.tolist() == [256, 97, 98, 256, 99, 100] and not short.truncated
    long = enc.encode(ex("abcdefgh", "xy"))  # 9 + 3 tokens -> the longer loses 2
    assert long.input_ids.tolist() == [256, *b"abcdef", 256, *b"xy"] and long.truncated
    both = enc.encode(ex("abcdefgh", "uvwxyz"))  # budget 8: 4 + 4
    assert both.input_ids.tolist() == [256, *b"abcd", 256, *b"uvwx"]
    single = Encoder("text", tokenizer=tok, max_tokens=4).encode(ex("abcdefgh"))
    assert single.input_ids.tolist() == [256, *b"abc"] and single.truncated
    assert truncate_pair([1] * 5, [2] * 4, 5) == ([1] * 3, [2] * 2)  # ties go to the first segment
    assert truncate_pair([1] * 2, [2] * 10, 5) == ([1] * 2, [2] * 3)


def test_collator_right_pads_and_pair_uses_fixed_image_length():
    tok = ByteTokenizer()
    cfg = RendererConfig(max_patches=48)
    examples = [
        ex("A short one.", "B.", idx=7),
        ex("A much longer first sentence here.", "And a second.", idx=9),
    ]
    for modality in ("text", "pixel", "pair"):
        enc = Encoder(modality, tokenizer=tok, renderer_config=cfg, max_tokens=64, max_patches=48)
        data = FinetuneDataset(examples, enc)
        items = [data[0], data[1]]
        batch = Collator(enc)(items)
        assert batch["idx"].tolist() == [0, 1]  # positions in the dataset
        assert batch["labels"].tolist() == [1, 1]
        if modality != "pixel":
            lengths = [len(it.input_ids) for it in items]
            assert batch["attention_mask"].sum(1).tolist() == lengths
            assert batch["input_ids"].shape[1] == max(lengths)
            assert not batch["attention_mask"][0, lengths[0] :].any()
        if modality != "text":
            n = [len(it.patches) for it in items]
            assert batch["patch_mask"].sum(1).tolist() == n
            width = 48 if modality == "pair" else max(n)
            assert batch["patches"].shape == (2, width, 16, 16, 3)
            assert (batch["patches"][0, n[0] :] == 255).all()  # white padding
    text = Encoder("text", tokenizer=tok)
    padded8 = Collator(text, pad_to_multiple=8)([text.encode(e) for e in examples])
    assert (
        padded8["input_ids"].shape[1] % 8 == 0
        and padded8["attention_mask"].sum() < padded8["input_ids"].numel()
    )
    regression = Collator(Encoder("text", tokenizer=tok), regression=True)
    enc = Encoder("text", tokenizer=tok)
    labels = regression([enc.encode(ex("a", label=2.5)), enc.encode(ex("b", label=None))])["labels"]
    assert labels[0] == 2.5 and labels[1].isnan()


def test_truncation_is_counted_across_worker_processes():
    """Flags set in DataLoader workers reach the main process (shared memory)."""
    import torch

    enc = Encoder("text", tokenizer=ByteTokenizer(), max_tokens=6)
    data = FinetuneDataset([ex("abcdefghij", idx=0), ex("ab", idx=1), ex("abcdefghijk", idx=2)], enc)
    loader = torch.utils.data.DataLoader(data, batch_size=1, num_workers=1, collate_fn=Collator(enc))
    assert len(list(loader)) == 3
    assert data.num_truncated == 2
