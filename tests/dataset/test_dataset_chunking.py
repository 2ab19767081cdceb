"""Chunking with the real renderer: nothing lost or duplicated, strips within budget, graphemes intact."""

import math
import unicodedata

import pytest

from pixelgpt.dataset.chunking import ChunkError, chunk_spans
from pixelgpt.dataset.clean import clean_document
from pixelgpt.dataset.samples import sample_inputs
from pixelgpt.dataset.sources import BUILTIN, Doc, read_source
from pixelgpt.renderer import Renderer, RendererConfig

M = 48  # patches per strip: small, so documents need several chunks


@pytest.fixture(scope="module")
def renderer():
    return Renderer(RendererConfig(max_patches=M))


def fits(renderer, chunk: str, max_patches: int = M) -> bool:
    """Paper geometry, computed here: end patch at the next boundary after 2 + width + 2, within the strip."""
    return math.ceil((2 + renderer.measure(chunk) + 2) / 16) * 16 <= (max_patches - 1) * 16


def check(renderer, text: str) -> list[str]:
    spans = chunk_spans(text, renderer.measure, renderer.char_extents, renderer.config)
    pos = 0
    for s, e in spans:
        assert pos <= s < e and text[pos:s].strip() == "", "gap between chunks must be whitespace only"
        pos = e
    assert text[pos:].strip() == ""
    chunks = [text[s:e] for s, e in spans]
    assert "".join("".join(chunks).split()) == "".join(text.split()), "characters lost or duplicated"
    for c in chunks:
        assert c == c.strip()
        assert fits(renderer, c), (renderer.measure(c), c[:40])
    return chunks


def corpus_texts():
    for source, files in sample_inputs().items():
        for f in files:
            for d in read_source(f, source, BUILTIN[source], "/nonexistent"):
                assert isinstance(d, Doc)
                yield clean_document(d.text)


def test_sample_corpus_chunks_fit_and_lose_nothing(renderer):
    n_chunks, full = 0, []
    for text in corpus_texts():
        chunks = check(renderer, text)
        n_chunks += len(chunks)
        for c in chunks[:-1]:  # all but the last chunk of a document should be well filled
            full.append(renderer.measure(c) > 0.5 * (M - 1) * 16)
    assert n_chunks > 342 and len(full) > 100
    assert sum(full) == len(full)


def test_rendered_strip_has_end_patch_inside_budget(renderer):
    text = max(corpus_texts(), key=len)
    for c in check(renderer, text):
        enc = renderer.render(c)
        width = renderer.measure(c)
        assert enc.num_text_patches == math.ceil((4 + width) / 16) <= M - 1
        assert enc.patches.shape[0] == enc.num_text_patches + 1 <= M
        assert (enc.patches[-1] == 0).all()


def test_unbreakable_runs_split_at_grapheme_boundaries(renderer):
    accents = "e\u0301" * 1500
    for c in check(renderer, "start " + accents + " end"):
        assert unicodedata.category(c[0]) != "Mn"
    family = "👩\u200d👩\u200d👧" * 120
    for c in check(renderer, family):
        assert c.startswith("👩\u200d👩\u200d👧") and c.endswith("👧")
    flags = "🇩🇪🇫🇷🇯🇵" * 150
    for c in check(renderer, flags):
        assert len(c) % 2 == 0  # no space in the run: every chunk starts on a flag pair


def test_cjk_and_long_identifiers_fill_strips(renderer):
    cjk = "长江是中国最长的河流，全长约六千三百公里。" * 200
    chunks = check(renderer, cjk)
    assert all(renderer.measure(c) > 0.9 * (M - 1) * 16 - 20 for c in chunks[:-1])
    ident = "x" * 5000 + " tail"
    chunks = check(renderer, ident)
    assert chunks[-1].endswith("tail") and len(chunks) > 3


def test_rtl_text_fits(renderer):
    check(renderer, "نهر النيل هو أطول نهر في أفريقيا ويمر عبر عدة دول. " * 60)
    check(renderer, "ים המלח הוא הנקודה הנמוכה ביותר על פני היבשה. " * 60)


def test_layout_passes_grow_with_chunks_not_characters(renderer):
    calls = {"measure": 0, "extents": 0}

    def measure(t):
        calls["measure"] += 1
        return renderer.measure(t)

    def extents(t):
        calls["extents"] += 1
        return renderer.char_extents(t)

    text = " ".join(f"word{i}" for i in range(6000))
    spans = chunk_spans(text, measure, extents, renderer.config)
    assert len(spans) > 50
    assert calls["measure"] <= 2 * len(spans) and calls["extents"] <= 3 * len(spans)


def test_single_grapheme_wider_than_strip_is_an_error():
    small = Renderer(RendererConfig(max_patches=2))
    with pytest.raises(ChunkError):
        chunk_spans("\ufdfd", small.measure, small.char_extents, small.config)


def test_token_budget_no_chunk_over_either_budget_and_nothing_lost(renderer):
    """Byte tokens (BOS + one per UTF-8 byte) and a small token budget: the budget, not the strip, ends most
    chunks; every chunk fits both, characters are neither lost nor duplicated, cuts fall on whitespace."""
    from pixelgpt.dataset.tokenizers import ByteTokenizer

    tok = ByteTokenizer()

    def starts(chunk):
        _, offsets = tok.encode(chunk)
        return [s if e > s else -1 for s, e in offsets.tolist()]

    budget, n_chunks, token_bound = 40, 0, 0
    for text in corpus_texts():
        spans = chunk_spans(text, renderer.measure, renderer.char_extents, renderer.config, starts, budget)
        chunks = [text[s:e] for s, e in spans]
        assert "".join("".join(chunks).split()) == "".join(text.split())
        for c in chunks:
            n_tokens = len(tok.encode(c)[0])  # counted independently: 1 + UTF-8 bytes
            assert n_tokens == 1 + len(c.encode("utf-8")) <= budget and fits(renderer, c)
            token_bound += n_tokens > budget - 12
        n_chunks += len(chunks)
    assert n_chunks > 1000 and token_bound > 0.8 * n_chunks  # the token budget is what ends chunks here


def test_a_grapheme_with_more_tokens_than_the_budget_fails(renderer):
    from pixelgpt.dataset.tokenizers import ByteTokenizer

    tok = ByteTokenizer()

    def starts(chunk):
        _, offsets = tok.encode(chunk)
        return [s if e > s else -1 for s, e in offsets.tolist()]

    with pytest.raises(ChunkError, match="max_tokens 3"):  # BOS + 4 bytes of one emoji
        chunk_spans("\U0001f642", renderer.measure, renderer.char_extents, renderer.config, starts, 3)
