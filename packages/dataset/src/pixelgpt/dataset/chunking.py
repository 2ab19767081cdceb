"""Split a normalised document into chunks whose strip fits the patch budget, end patch included.

A text fits a strip iff its width is at most the renderer config's `text_width_px` (docs/paper-facts.md:
Rendering: otherwise the end patch is capped onto text).

Per chunk, one `char_extents` layout pass over a window of the remaining text gives each character's advance;
their running sum finds how many characters fit; the cut moves back to the last whitespace (if that keeps at
least half of what fits) or else to a grapheme boundary (CJK runs, long identifiers, URLs); one `measure`
of the candidate confirms it (and, rarely, moves the cut further back). Whitespace at a cut is dropped;
nothing else is lost or duplicated.

With a token budget (`count_tokens`, `max_tokens`), a candidate whose tokens (special tokens included) pass
the budget is cut again before the first token that does not fit, the same way (whitespace, else a grapheme
boundary), and checked again: every chunk then fits both its strip and its token row, so nothing is ever
cropped later.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the renderer loads Pango on import
    from pixelgpt.renderer import RendererConfig

SAFETY_PX = 1  # summed float advances vs the renderer's own rounding
_BREAK_CHARS = (" ", "\n", "\t", "\u3000")


class ChunkError(ValueError):
    """A document that cannot be cut into strips (a single grapheme wider than a strip)."""


def _joins_previous(text: str, i: int) -> bool:
    """True when there is no grapheme boundary between text[i-1] and text[i] (a practical subset of UAX #29:
    combining marks, ZWJ sequences, variation selectors, emoji modifiers and tags, Hangul vowels/finals,
    flag pairs)."""
    c, p = ord(text[i]), ord(text[i - 1])
    if p == 0x200D or c == 0x200D:
        return True
    if 0xFE00 <= c <= 0xFE0F or 0xE0100 <= c <= 0xE01EF or 0x1F3FB <= c <= 0x1F3FF or 0xE0020 <= c <= 0xE007F:
        return True
    if 0x1160 <= c <= 0x11FF:
        return True
    if 0x1F1E6 <= c <= 0x1F1FF and 0x1F1E6 <= p <= 0x1F1FF:
        run = 0
        j = i - 1
        while j >= 0 and 0x1F1E6 <= ord(text[j]) <= 0x1F1FF:
            run += 1
            j -= 1
        return run % 2 == 1
    return unicodedata.category(text[i]) in ("Mn", "Mc", "Me")


def grapheme_boundary_before(text: str, lo: int, i: int) -> int:
    """The largest grapheme boundary b with lo < b <= i (or i itself when the run has none)."""
    b = i
    while b > lo + 1 and b < len(text) and _joins_previous(text, b):
        b -= 1
    return b if (b == len(text) or not _joins_previous(text, b)) else i


def chunk_spans(
    text: str,
    measure: Callable[[str], float],
    char_extents: Callable[[str], np.ndarray],
    config: RendererConfig,
    token_starts: Callable[[str], np.ndarray] | None = None,
    max_tokens: int | None = None,
) -> list[tuple[int, int]]:
    """Half-open character spans of `text`, one per chunk, in order. Text between spans is whitespace only.
    measure and char_extents are those of a Renderer of `config`.

    token_starts(chunk) -> the first character of each token of the chunk, -1 for a token that covers no
    character (a special token); with max_tokens, no chunk has more tokens than that."""
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens: need >= 1, got {max_tokens}")
    limit = config.text_width_px - SAFETY_PX
    n = len(text)
    first_window = int(limit / 4) + 32  # ~4 px per character on average
    max_window = int(limit * 4) + 32  # zero-width characters aside, nothing is narrower than 1/4 px
    spans: list[tuple[int, int]] = []
    pos = _skip_space(text, 0)
    while pos < n:
        window = first_window
        while True:
            end = min(n, pos + window)
            ext = char_extents(text[pos:end])
            cum = np.cumsum(np.abs(ext[:, 1] - ext[:, 0]), dtype=np.float64)
            fit = int(np.searchsorted(cum, limit, side="right"))  # chars whose running width <= limit
            if fit < end - pos or end == n or window >= max_window:
                break
            window *= 2
        cut = pos + fit
        while True:
            if cut >= n:
                stop, nxt = n, n
            else:
                stop = _break_before(text, pos, cut, fit)
                nxt = stop
            e = stop
            while e > pos and text[e - 1].isspace():
                e -= 1
            if e > pos and measure(text[pos:e]) <= limit:
                fitting = _chars_within_budget(text[pos:e], token_starts, max_tokens)
                if fitting is None:
                    break
                if fitting == 0:
                    raise ChunkError(
                        f"character {pos}: a grapheme needs more than max_tokens {max_tokens} tokens"
                    )
                cut, fit = pos + fitting, fitting  # before the first token past the budget, then check again
                continue
            if cut <= pos + 1:
                raise ChunkError(
                    f"character {pos}: a grapheme wider than a strip of {config.max_patches} patches"
                )
            cut = min(cut, stop) - 1
            fit = cut - pos
        spans.append((pos, e))
        pos = _skip_space(text, nxt)
    return spans


def _chars_within_budget(chunk: str, token_starts, max_tokens: int | None) -> int | None:
    """None when the chunk's tokens fit the budget; else how many leading characters to keep at most: up to
    the first character of the first token past the budget (a character split across tokens goes whole)."""
    if token_starts is None or max_tokens is None:
        return None
    starts = np.asarray(token_starts(chunk))
    if len(starts) <= max_tokens:
        return None
    real = starts[max_tokens:][starts[max_tokens:] >= 0]
    first_out = int(real[0]) if len(real) else len(chunk)
    return max(0, min(first_out, len(chunk) - 1))


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    return i


def _break_before(text: str, pos: int, cut: int, fit: int) -> int:
    """Where to end a chunk that may hold text[pos:cut]: at the last whitespace if it keeps at least half of
    `fit`, else at the grapheme boundary at or before cut."""
    ws = max(text.rfind(ch, pos + 1, cut + 1) for ch in _BREAK_CHARS)
    if ws > pos and ws - pos >= fit // 2:
        return ws
    return grapheme_boundary_before(text, pos, max(cut, pos + 1))
