"""Every script the issue names renders with real glyphs; emoji in colour; unknown code points are tofu."""

import pytest
from renderer_samples import SCRIPTS


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_renders_without_tofu(renderer, name):
    enc = renderer.render(SCRIPTS[name])
    assert enc.tofu == 0
    ink = (enc.patches[:-1] < 200).sum()
    assert ink > 20 * len(SCRIPTS[name]) / 4, ink  # glyphs were drawn, not blanks


def test_text_is_grey_and_emoji_are_coloured(renderer):
    text_only = renderer.render(SCRIPTS["latin"] + " " + SCRIPTS["chinese"]).patches.astype(int)
    assert (text_only[..., 0] == text_only[..., 1]).all() and (text_only[..., 1] == text_only[..., 2]).all()
    emoji = renderer.render("😀🚀").patches.astype(int)
    spread = emoji.max(axis=-1) - emoji.min(axis=-1)
    assert (spread > 60).sum() > 30  # many strongly coloured pixels


def test_emoji_has_text_height(renderer):
    """Bitmap emoji are scaled to the font size (10-scale-bitmap-fonts.conf), not drawn at 109 px."""
    enc = renderer.render("😀")
    assert renderer.measure("😀") < 32
    assert enc.num_text_patches <= 2


def test_unassigned_code_point_is_tofu(renderer):
    assert renderer.render("a\u0378b").tofu > 0
    assert renderer.render("\U000e0080").tofu + renderer.render("\U0010fffd").tofu > 0


def test_arabic_is_detected_rtl():
    from pixelgpt.renderer import is_rtl

    assert is_rtl(SCRIPTS["arabic"]) and is_rtl(SCRIPTS["hebrew"])
    assert not is_rtl(SCRIPTS["latin"]) and not is_rtl("") and not is_rtl("123 ...")
    assert not is_rtl("hello مرحبا world")  # first and last are LTR: 1 vote of 3


def test_is_rtl_matches_pixels_rule_on_random_mixtures():
    import random
    import string
    import unicodedata

    from pixelgpt.renderer import is_rtl

    def reference(text):  # PIXEL's rule, written out: strip ASCII space/punctuation/digits, vote on 3 chars
        t = "".join(c for c in text if c not in string.whitespace + string.punctuation + string.digits)
        return (
            bool(t)
            and sum(unicodedata.bidirectional(c) in ("R", "AL") for c in (t[0], t[len(t) // 2], t[-1])) >= 2
        )

    pool = "abcXYZ éß мир 中文 שלום مرحبا 0123 .,;!?()\t\n-"
    rng = random.Random(0)
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 12))) for _ in range(400)]
    assert sum(map(reference, texts)) > 20  # the sample has both answers
    assert [is_rtl(t) for t in texts] == [reference(t) for t in texts]


@pytest.mark.parametrize("rgb", [True, False])
def test_full_layout_strips_equal_the_surface_and_only_colour_is_copied_as_rgb(rgb):
    """Full layout (no word cache): the patches are the cairo surface's pixels, BGRx -> RGB (or luma), cut
    into patches by hand here; RGB strips drawn without a colour font come as a read-only grey broadcast."""
    import numpy as np

    from pixelgpt.renderer import Renderer, RendererConfig

    r = Renderer(RendererConfig(word_cache=False, rgb=rgb))
    for name, text in sorted(SCRIPTS.items()):
        enc = r.render(text)
        n, P = len(enc.patches), 16
        bgr = r._layout.pixels[:, : n * P, :3].astype(np.int64)  # the surface still holds this strip
        want = (
            bgr[..., ::-1]
            if rgb
            else (bgr[..., 2:] * 299 + bgr[..., 1:2] * 587 + bgr[..., :1] * 114 + 500) // 1000
        )
        want = np.stack([want[:, i * P : (i + 1) * P] for i in range(n)])
        want[-1] = 0  # the black end patch
        np.testing.assert_array_equal(enc.patches, want, err_msg=name)
        if rgb:
            assert (enc.patches.strides[-1] == 0) == (name != "emoji"), name
