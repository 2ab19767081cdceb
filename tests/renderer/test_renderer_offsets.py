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


def test_extents_match_pangos_own_character_iterator(reference):
    """Layout.char_extents (one C walk over the runs) against pango_layout_iter_get_char_extents, Pango's
    per-character answer, read here through a cffi binding of its own."""
    from cffi import FFI

    from pixelgpt.renderer.renderer import is_rtl

    ffi = FFI()
    ffi.cdef(
        """
        typedef struct { int x; int y; int width; int height; } PangoRectangle;
        void *pango_layout_get_iter(void *layout);
        void pango_layout_iter_free(void *iter);
        int pango_layout_iter_next_char(void *iter);
        int pango_layout_iter_get_index(void *iter);
        void pango_layout_iter_get_char_extents(void *iter, PangoRectangle *logical_rect);
        """
    )
    pango = ffi.dlopen("libpango-1.0.so.0")
    rng = random.Random(11)
    lay = reference._layout
    for _ in range(40):
        t = " ".join(rng.choice(PIECES + RTL_PIECES) for _ in range(rng.randint(1, 25)))
        lay.set_text(t, is_rtl(t))
        width = lay.size()[0]
        got = lay.char_extents(len(t), width)
        want = np.empty_like(got)
        char_of_byte = {b: i for i, b in enumerate(np.cumsum([0] + [len(c.encode()) for c in t])[:-1])}
        it, rect = pango.pango_layout_get_iter(ffi.cast("void *", lay.layout)), ffi.new("PangoRectangle *")
        try:
            while True:
                pango.pango_layout_iter_get_char_extents(it, rect)
                i = char_of_byte.get(pango.pango_layout_iter_get_index(it))
                if i is not None:
                    left = rect.x if rect.width >= 0 else rect.x + rect.width
                    want[i] = (left / 1024, (left + abs(rect.width)) / 1024)
                if not pango.pango_layout_iter_next_char(it):
                    break
        finally:
            pango.pango_layout_iter_free(it)
        np.testing.assert_array_equal(got, want, err_msg=t)
