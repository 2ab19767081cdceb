"""The word cache is only an optimisation: byte-identical to the full layout on hundreds of real strings."""

import random

import numpy as np
from renderer_samples import SCRIPTS

PROSE = [
    "Autoregressive",
    "pre-training",
    "on",
    "pixels",
    "renders",
    "every",
    "document",
    "as",
    "a",
    "strip",
    "of",
    "small",
    "square",
    "patches,",
    "and",
    "the",
    "model",
    "learns",
    "to",
    "predict",
    "the",
    "next",
    "patch",
    "from",
    "the",
    "ones",
    "before",
    "it.",
    "In",
    "2024,",
    "the",
    "authors",
    "reported",
    "that",
    "a",
    "model",
    "trained",
    "this",
    "way",
    '("PixelGPT")',
    "reached",
    "78.4%",
    "accuracy",
    "on",
    "XNLI",
    "--",
    "within",
    "a",
    "few",
    "points",
    "of",
    "a",
    "token-based",
    "baseline!",
    "Meanwhile,",
    "Dr.",
    "O'Neill's",
    "group",
    "measured",
    "the",
    "cost:",
    "about",
    "$1,200",
    "per",
    "run,",
    "i.e.",
    "3x",
    "cheaper;",
    "see",
    "p.",
    "17.",
    "Wait...",
    "was",
    "it",
    '"fjord",',
    '"jiffy"',
    "or",
    "'Ajax'?",
    "The",
    "café",
    "served",
    "crème",
    "brûlée",
    "&",
    "naïve",
    "smørrebrød",
    "—",
    "déjà",
    "vu,",
    "señor.",
    "Zażółć",
    "gęślą",
    "jaźń;",
    "Fußgängerübergänge",
    "öffnen",
    "um",
    "7:45",
    "Uhr.",
    "À",
    "bientôt,",
    "Ærøskøbing!",
    "Ÿ",
    "ĳ",
    "ŉ",
    "ſ",
    "ǅ",
    "ȸ",
    "ɏ",
    "…",
    "‰",
    "‹›",
]
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
    for t in corpus(60, seed=3):
        assert_same(r.render(t), reference.render(t))
    assert len(r._words._units) <= 20 and r._words._old


def test_colourless_composed_patches_are_a_read_only_rgb_view(renderer, reference):
    text = " ".join(PROSE[:40])
    a, b = renderer.render(text), reference.render(text)
    assert a.patches.shape == b.patches.shape and a.patches.dtype == np.uint8
    assert not a.patches.flags.writeable and a.patches.strides[-1] == 0  # one grey channel, broadcast
    copy = np.array(a.patches)  # a caller that needs to write makes its own copy
    copy[0] = 7
    np.testing.assert_array_equal(a.patches, b.patches)


def test_inked_columns_matches_a_plain_any():
    from pixelgpt.renderer.word_cache import _inked_columns

    rng = np.random.default_rng(0)
    grey = np.full((500, 16), 255, np.uint8)
    spots = rng.integers(0, 500, 60), rng.integers(0, 16, 60)
    grey[spots] = rng.integers(0, 255, 60)  # ink anywhere in a column, including its first and last byte
    grey[10, 0], grey[11, 15] = 0, 254
    np.testing.assert_array_equal(_inked_columns(grey), [any(v != 255 for v in col) for col in grey.tolist()])
