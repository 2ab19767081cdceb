"""Bad input: a clear error or a documented normalisation, never a crash or a hang."""

import numpy as np
import pytest

from pixelgpt.renderer import RendererConfig


@pytest.mark.parametrize("bad", ["a\ud800b", "\udfff", "a\x00b", "\x1b[0m", "x\x7f", "y\x9b"])
def test_bad_characters_raise_value_error(renderer, bad):
    with pytest.raises(ValueError, match=r"U\+[0-9A-F]{4} at index \d"):
        renderer.render(bad)
    with pytest.raises(ValueError):
        renderer.measure(bad)
    with pytest.raises(ValueError):
        renderer.render_pair("fine", bad)


def test_non_string_raises_type_error(renderer):
    with pytest.raises(TypeError):
        renderer.render(b"bytes")


def test_whitespace_controls_become_spaces(renderer):
    ref = renderer.render("a b c d e f").patches
    for text in ["a\tb\nc\rd\x0be\x0cf", "a\u2028b\u2029c\x85d e f"]:
        enc = renderer.render(text)
        np.testing.assert_array_equal(enc.patches, ref)
        assert enc.char_patches.shape == (len(text), 2)


@pytest.mark.timeout(20)
def test_one_megabyte_string(renderer):
    text = "All work and no play makes Jack a dull boy. " * 23832
    assert len(text) > 1_000_000
    enc = renderer.render(text)
    assert enc.num_text_patches == 1023 and enc.char_patches.shape == (len(text), 2)
    assert (enc.char_patches[-1] == 1023).all()
    assert renderer.measure(text) > 1023 * 16


@pytest.mark.timeout(20)
def test_combining_mark_flood_is_capped(renderer):
    flood = "a" + "\u0301" * 60_000 + "b"
    enc = renderer.render(flood)
    capped = renderer.render("a" + "\u0301" * 30 + "b")
    np.testing.assert_array_equal(enc.patches, capped.patches)  # marks past the 30th become invisible U+200B
    assert enc.char_patches.shape == (len(flood), 2)


def test_bad_config_names_the_key():
    for kwargs, key in [
        ({"dpi": 0}, "dpi"),
        ({"newline": "drop"}, "newline"),
        ({"max_patches": 1}, "max_patches"),
        ({"patch_size": "16"}, "patch_size"),
        ({"rgb": 1}, "rgb"),
    ]:
        with pytest.raises(ValueError, match=f"RendererConfig.{key}"):
            RendererConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown key"):
        RendererConfig.from_dict({"dpi": 120, "colour": "red"})
    cfg = RendererConfig()
    assert RendererConfig.from_dict(cfg.to_dict()) == cfg
    assert type(RendererConfig.from_dict({"font_size": 8}).font_size) is int  # exports keep "font_size": 8
    # the end patch, at the next boundary after 2 + width + 2, stays before the last patch's end
    assert RendererConfig(max_patches=48).text_width_px == 47 * 16 - 4
