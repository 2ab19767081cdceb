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
