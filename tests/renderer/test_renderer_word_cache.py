"""The word cache is only an optimisation: byte-identical to the full layout on thousands of strings."""

import random

import numpy as np
from renderer_samples import SCRIPTS

PROSE = (
    "Autoregressive pre-training on pixels renders every document as a strip of small square patches, "
    "and the model learns to predict the next patch from the ones before it. In 2024, the authors "
    'reported that a model trained this way ("PixelGPT") reached 78.4% accuracy on XNLI -- within a few '
    "points of a token-based baseline! Meanwhile, Dr. O'Neill's group measured the cost: about $1,200 "
    'per run, i.e. 3x cheaper; see p. 17. Wait... was it "fjord", "jiffy" or \'Ajax\'? The café served '
    "crème brûlée & naïve smørrebrød — déjà vu, señor. Zażółć gęślą jaźń; Fußgängerübergänge öffnen um "
    "7:45 Uhr. À bientôt, Ærøskøbing! Ÿ ĳ ŉ ſ ǅ ȸ ɏ … ‰ ‹›"
).split()
CODE = [
    "def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "    return self.proj(F.silu(self.gate(x)) * self.up(x))  # SwiGLU",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "if __name__ == '__main__':  sys.exit(main(sys.argv[1:]))",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "x = {'a': [1, 2, 3], \"b\": (4.5e-3, None), 'c': f\"{y!r:>10}\"}",
    "    #   indented   comment   with   runs   of   spaces   ",
    "const f = async (url) => await fetch(url).then(r => r.json());",
    "https://example.com/path?query=1&other=two#anchor ~user/$HOME\\n",
]
MULTI = list(SCRIPTS.values())


def corpus(n=300, seed=0):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 6
        if kind in (0, 1, 2):
            start = rng.randrange(len(PROSE))
            out.append(" ".join(PROSE[start : start + rng.randint(1, 120)]))
        elif kind == 3:
            out.append("  ".join(rng.sample(CODE, rng.randint(1, len(CODE)))))
        elif kind == 4:  # prose with a non-Latin word somewhere: must fall back and still match
            words = rng.sample(PROSE, 20)
            words.insert(rng.randrange(20), rng.choice(MULTI))
            out.append(" ".join(words))
        else:
            out.append(
                " " * rng.randint(0, 3)
                + " ".join(rng.choices(PROSE, k=rng.randint(1, 40)))
                + " " * rng.randint(0, 2)
            )
    return out


def assert_same(a, b):
    assert a.num_text_patches == b.num_text_patches
    assert a.width == b.width and a.tofu == b.tofu
    np.testing.assert_array_equal(a.char_patches, b.char_patches)
    assert a.patches.dtype == b.patches.dtype and a.patches.shape == b.patches.shape
    if a.patches.tobytes() != b.patches.tobytes():
        diff = np.argwhere(a.patches != b.patches)
        raise AssertionError(f"{len(diff)} bytes differ, first at patch/row/col/channel {diff[0]}")


def test_composed_strips_equal_the_full_layout(renderer, reference):
    texts = corpus()
    for t in texts:
        assert_same(renderer.render(t), reference.render(t))
    for t in texts[:60]:  # twice: now every unit comes from the cache
        assert_same(renderer.render(t), reference.render(t))


def test_composed_pairs_measures_and_extents_equal_the_full_layout(renderer, reference):
    texts = corpus(120, seed=1)
    for a, b in zip(texts[::2], texts[1::2]):
        assert_same(renderer.render_pair(a, b), reference.render_pair(a, b))
    for t in texts:
        assert renderer.measure(t) == reference.measure(t)
        np.testing.assert_array_equal(renderer.char_extents(t), reference.char_extents(t))


def test_the_cache_is_actually_used(renderer):
    words = renderer._words
    text = " ".join(PROSE[:50])
    assert words.compose(text) is not None  # prose composes
    assert words.compose("mixed 中文 text") is None  # other scripts take the full layout


def test_a_full_cache_ages_out_and_stays_exact(reference, monkeypatch):
    from pixelgpt.renderer import Renderer, RendererConfig, word_cache

    monkeypatch.setattr(word_cache, "MAX_UNITS", 40)
    r = Renderer(RendererConfig())
    texts = corpus(60, seed=3)
    for t in texts:
        assert_same(r.render(t), reference.render(t))
    words = r._words
    assert words.compactions > 1
    # after a compaction the store holds the 20 most recently used units plus what one text needs
    assert words._store.n <= 40 + max(len(set(t.split(" "))) for t in texts)
    for t in texts[:20]:  # kept units, evicted ones laid out again, new ones, in one text
        assert_same(r.render(t), reference.render(t))


def test_colourless_composed_patches_are_a_read_only_rgb_view(renderer, reference):
    text = " ".join(PROSE[:40])
    a, b = renderer.render(text), reference.render(text)
    assert a.patches.shape == b.patches.shape and a.patches.dtype == np.uint8
    assert not a.patches.flags.writeable and a.patches.strides[-1] == 0  # one grey channel, broadcast
    copy = np.array(a.patches)  # a caller that needs to write makes its own copy
    copy[0] = 7
    np.testing.assert_array_equal(a.patches, b.patches)


def _composable_chars(renderer) -> list[str]:
    """Every candidate character the first font has (those the cache may compose), from the font's charset."""
    from pixelgpt.renderer.word_cache import _CANDIDATES

    words = renderer._words
    chars = [chr(c) for lo, hi in _CANDIDATES for c in range(lo, hi + 1) if chr(c) != " "]
    return [c for c in chars if words._composable.fullmatch(c)]


def test_every_composable_character_in_context(renderer, reference):
    chars = _composable_chars(renderer)
    assert len(chars) > 750  # Latin-1, Latin Extended-A/B, IPA, modifier letters, punctuation, currency
    tokens = ["".join(chars[i : i + 7]) for i in range(0, len(chars), 7)]
    lines = [" ".join(tokens[i : i + 12]) for i in range(0, len(tokens), 12)]
    lines += [f"{c}" for c in chars[::5]] + [f" {c}x{c} {c}" for c in chars[1::5]]
    for t in lines:
        assert renderer._words.compose(t) is not None
        assert_same(renderer.render(t), reference.render(t))


def test_every_composable_character_at_either_end_of_a_line(renderer, reference):
    """A character may be drawn otherwise where a line ends (U+2027 HYPHENATION POINT is: the cache leaves it
    out), so each one alone, first, last and between neighbours."""
    for c in _composable_chars(renderer):
        for t in [c, "a" + c, "x " + c, c + "a", c + " x", "W" + c + "W", c + c + " " + c, "(" + c + ")"]:
            assert_same(renderer.render(t), reference.render(t))


def test_random_strings_over_the_composable_alphabet(renderer, reference):
    rng = random.Random(7)
    chars = _composable_chars(renderer)
    ascii_ = [c for c in chars if c.isascii()]
    for _ in range(300):
        pool = ascii_ if rng.random() < 0.6 else chars
        tokens = ["".join(rng.choices(pool, k=rng.randint(0, 12))) for _ in range(rng.randint(1, 60))]
        t = "".join(tok + " " * rng.choice([1, 1, 1, 2, 3]) for tok in tokens)[: rng.randint(1, 900)]
        assert_same(renderer.render(t), reference.render(t))


def test_digits_and_punctuation_alone(renderer, reference):
    # no letter anywhere: Pango shapes the line in the Common script, the cache shapes units as Latin
    for t in ["(1999) 2024, 3.5% -- 7:45; #12 @ $1,200.00!", "0123456789", "... !!! ??? ,,, ;;; ::: ---",
              "[{(<>)}] /\\ |_| ~^` '\"' +=* &%$#@", "1 2 3   4"]:  # fmt: skip
        assert_same(renderer.render(t), reference.render(t))


def test_strips_clipped_at_the_end_patch():
    from pixelgpt.renderer import Renderer, RendererConfig

    cfg = dict(max_patches=24)
    small, small_ref = Renderer(RendererConfig(**cfg)), Renderer(RendererConfig(word_cache=False, **cfg))
    rng = random.Random(3)
    for _ in range(60):
        t = " ".join(rng.choices(PROSE, k=rng.randint(10, 80)))  # far wider than 23 text patches
        assert_same(small.render(t), small_ref.render(t))
        a, b = t[: rng.randint(0, 200)], t[rng.randint(0, 200) :]
        assert_same(small.render_pair(a, b), small_ref.render_pair(a, b))


def test_pairs_stay_exact_when_composing_b_compacts_the_cache(reference, monkeypatch):
    from pixelgpt.renderer import Renderer, RendererConfig, word_cache

    monkeypatch.setattr(word_cache, "MAX_UNITS", 30)
    r = Renderer(RendererConfig())
    texts = corpus(80, seed=5)
    for a, b in zip(texts[::2], texts[1::2]):
        assert_same(r.render_pair(a, b), reference.render_pair(a, b))
    assert r._words.compactions > 3


def test_new_words_drawn_by_cairo_or_from_glyph_masks_are_the_same(reference):
    """New units are drawn from cached glyph masks; where a glyph has none, cairo draws the batch. Both
    ways (here: cairo for every batch) give the full layout's pixels."""
    from pixelgpt.renderer import Renderer, RendererConfig
    from pixelgpt.renderer.glyph_masks import NO_MASK

    r = Renderer(RendererConfig())
    r._words._masks.by_glyph[:] = NO_MASK  # no glyph may have a mask
    texts = corpus(80, seed=9)
    for t in texts:
        assert_same(r.render(t), reference.render(t))
    assert r._words.laid_out > 100 and r._words._masks.rows == 0
