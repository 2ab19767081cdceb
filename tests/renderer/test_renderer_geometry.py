"""Strip geometry against PIXEL's formulas (docs/paper-facts.md: Rendering), applied by hand to measure()."""

import math

import numpy as np

P, LAST = 16, 1023


def next_boundary(x):
    return min(math.ceil(x / P) * P, LAST * P)


def ink_columns(strip):
    """Columns of a (16, W, 3) strip that hold any non-white pixel."""
    return np.flatnonzero((strip < 255).any(axis=(0, 2)))


def test_single_text_geometry(renderer):
    for text in ["Hello", "a", "Hello world, this is a longer sentence with more patches.", "ii", "W" * 37]:
        w = renderer.measure(text)
        enc = renderer.render(text)
        eos = next_boundary(2 + w + 2)
        assert enc.num_text_patches == eos // P
        assert enc.patches.shape == (eos // P + 1, P, P, 3) and enc.patches.dtype == np.uint8
        assert (enc.patches[-1] == 0).all()
        cols = ink_columns(enc.strip[:, :eos])
        # ink starts just right of the 2 px pad and ends within the measured width (+1 px antialiasing)
        assert 2 <= cols[0] <= 4, cols[0]
        assert 2 + w - 4 <= cols[-1] <= 2 + w, (cols[-1], w)


def test_patch_layout_is_patch_major_rgb(renderer):
    enc = renderer.render("Hello world")
    strip = enc.strip
    for i in range(enc.num_text_patches):
        np.testing.assert_array_equal(enc.patches[i], strip[:, i * P : (i + 1) * P])
    flat = enc.patches.reshape(len(enc.patches), -1)  # the 768-value target layout
    assert flat.shape[1] == 768
    np.testing.assert_array_equal(flat[0][:3], strip[0, 0])  # pixel (0,0): R, G, B interleaved


def test_empty_string_is_just_the_end_patch(renderer):
    enc = renderer.render("")
    assert enc.num_text_patches == 0 and enc.patches.shape == (1, P, P, 3)
    assert (enc.patches == 0).all() and enc.char_patches.shape == (0, 2)


def test_pair_separator_and_end(renderer):
    a, b = "The first text.", "And the second one, a little longer."
    wa, wb = renderer.measure(a), renderer.measure(b)
    enc = renderer.render_pair(a, b)
    sep = next_boundary(2 + wa + 2)
    start_b = sep + P + 2
    eos = next_boundary(start_b + wb + 2)
    assert enc.num_text_patches == eos // P
    assert (enc.patches[sep // P] == 0).all() and (enc.patches[-1] == 0).all()
    strip = enc.strip
    cols_b = ink_columns(strip[:, sep + P : eos])
    assert 2 <= cols_b[0] <= 4
    cols_a = ink_columns(strip[:, :sep])
    assert cols_a[-1] <= 2 + wa
    assert enc.char_patches.shape == (len(a) + len(b), 2)
    assert enc.char_patches[: len(a)].max() <= sep // P + 1
    assert enc.char_patches[len(a) :, 0].min() == (sep + P) // P


def test_clipping_at_the_budget(renderer):
    text = "lorem ipsum dolor sit amet " * 1000
    enc = renderer.render(text)
    assert enc.num_text_patches == LAST and enc.patches.shape == (LAST + 1, P, P, 3)
    assert (enc.patches[-1] == 0).all()
    assert (enc.patches[LAST - 1] < 255).any()  # text runs up to the end patch
    assert enc.char_patches.shape == (len(text), 2)
    assert enc.char_patches.min() >= 0 and enc.char_patches.max() <= LAST
    assert enc.width == renderer.measure(text) > LAST * P


def test_small_strip_budget():
    from pixelgpt.renderer import Renderer, RendererConfig

    r = Renderer(RendererConfig(max_patches=4))
    enc = r.render("a text much longer than four patches")
    assert enc.patches.shape == (4, P, P, 3) and enc.num_text_patches == 3


def test_grey_mode_is_luma():
    from pixelgpt.renderer import Renderer, RendererConfig

    rgb = Renderer(RendererConfig()).render("grey 😀")
    grey = Renderer(RendererConfig(rgb=False)).render("grey 😀")
    assert grey.patches.shape == rgb.patches.shape[:3] + (1,)
    r, g, b = (rgb.patches[..., i].astype(np.int64) for i in range(3))
    np.testing.assert_array_equal(grey.patches[..., 0], (299 * r + 587 * g + 114 * b + 500) // 1000)
