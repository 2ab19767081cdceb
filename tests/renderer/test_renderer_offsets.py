"""char_patches / char_extents: inside the strip, ordered with the text direction, exact for simple cases."""

import random

import numpy as np

P = 16
PIECES = [
    "hello",
    "world",
    "the",
    "ünïcödé",
    "日本語",
    "中文",
    "한국어",
    "😀",
    "🚀",
    "Ελλάδα",
    "Русский",
    "(x+1)",
    "42",
]
RTL_PIECES = ["שלום", "עולם", "مرحبا", "بالعالم", "كتاب", "ספר"]


def test_random_mixed_ltr_strings(renderer):
    rng = random.Random(7)
    for _ in range(40):
        text = " ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30)))
        enc = renderer.render(text)
        cp = enc.char_patches
        assert cp.shape == (len(text), 2) and cp.dtype == np.int32
        assert (cp >= 0).all() and (cp <= enc.num_text_patches).all() and (cp[:, 0] <= cp[:, 1]).all()
        for i, c in enumerate(text):
            if not c.isspace() and c != "\u200d":
                assert cp[i, 1] > cp[i, 0], (text, i, c)
                assert cp[i, 1] <= enc.num_text_patches
        starts = cp[:, 0]
        assert (np.diff(starts) >= 0).all(), text


def test_rtl_strings_run_right_to_left(renderer):
    rng = random.Random(11)
    for _ in range(20):
        text = " ".join(rng.choice(RTL_PIECES) for _ in range(rng.randint(2, 12)))
        enc = renderer.render(text)
        ext = renderer.char_extents(text)
        assert (np.diff(ext[:, 0]) <= 0).all(), text
        assert (np.diff(enc.char_patches[:, 0]) <= 0).all()
        assert (
            enc.char_patches[0, 1] == enc.num_text_patches
            or enc.char_patches[0, 1] >= enc.char_patches[-1, 1]
        )


def test_extents_of_a_repeated_glyph_are_arithmetic(renderer):
    """'x' * n with no kerning: character i covers [i*w, (i+1)*w), w = measure('x')."""
    w = renderer.measure("x")
    n = 50
    ext = renderer.char_extents("x" * n)
    expect = np.stack([np.arange(n) * w, np.arange(1, n + 1) * w], axis=1)
    np.testing.assert_array_equal(ext, expect.astype(np.float32))
    cp = renderer.render("x" * n).char_patches
    np.testing.assert_array_equal(cp[:, 0], (2 + expect[:, 0]) // P)
    np.testing.assert_array_equal(cp[:, 1], -(-(2 + expect[:, 1]) // P))


def test_extents_cover_the_measured_width(renderer):
    for text in ["Hello, world!", "日本語 and English", "a😀b", "mixed Ελλάδα 42"]:
        ext = renderer.char_extents(text)
        assert ext.dtype == np.float32 and ext.shape == (len(text), 2)
        assert ext[0, 0] == 0 and ext[:, 1].max() == renderer.measure(text)
        widths = ext[:, 1] - ext[:, 0]
        assert widths.sum() == renderer.measure(text)


def test_zero_width_character_gets_an_empty_range(renderer):
    text = "ab\u200bcd"
    enc = renderer.render(text)
    assert enc.char_patches[2, 0] == enc.char_patches[2, 1]
