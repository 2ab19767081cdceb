"""WordCache: compose strips from cached word renders instead of laying out every chunk.

Laying text out (itemise, shape, break analysis) is ~65% of the cost of a full render and drawing ~30%, and
text is Zipfian, so a word drawn once is cheap to reuse. A text is split at its spaces into tokens; a unit is
a token with the space after it ("word "; an empty token is a lone space), found by its token's bytes in a
hash table. New units are shaped together as one run (as Pango shapes a run, without a layout), drawn a gap
apart from cached glyph masks (or by cairo), and cut out; each keeps its grey columns, its advance, the ink it
spills left or right of its advance, and its characters' extents, in flat arrays indexed by a unit id. A strip
is then the units' columns side by side, each at x = the sum of the earlier advances. The loops are C
(kernels.c); a full cache keeps its most recently used half. The parts: unit_store.py (the arrays and the
hash table), shaping.py (shaping without a layout), glyph_masks.py (drawing from cached glyph masks); this
module decides what is composable and turns texts into units.

That is pixel-identical to the full layout (tests/renderer/test_renderer_word_cache.py proves it on thousands
of strings) because, with cairo's hint-metrics on and rounded glyph positions, every advance and glyph
position is a whole pixel, glyph masks are the same at any whole-pixel shift, nothing is shaped across a
space, and cairo combines the masks of one glyph run by saturating addition, which is how spilled ink is
added back. That holds where the whole line is one run of the first font, shaped as Pango shapes it, so the
cache takes only texts whose every character that font has among Latin letters (IPA included), digits,
common punctuation and currency signs (no RTL, no combining marks, no emoji). Anything else returns None and
the caller lays the text out in full.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import numpy as np

from pixelgpt.renderer import kernels
from pixelgpt.renderer._capi import PANGO_SCALE, ffi, fontconfig, pango
from pixelgpt.renderer.glyph_masks import GlyphMasks
from pixelgpt.renderer.layout import Layout
from pixelgpt.renderer.shaping import RunShaper
from pixelgpt.renderer.unit_store import UnitStore

# Candidates: Basic Latin, Latin-1 (no soft hyphen), Latin Extended-A/B, IPA extensions and spacing modifier
# letters (pronunciations: /ˈlʌndən/) but for two Bopomofo tone marks (U+02EA, U+02EB: another script, so
# another run), general punctuation (not U+2027 HYPHENATION POINT, which Pango draws darker at the end of a
# line), currency signs; only those the first font covers are used (so no fallback font can change the line's
# height). The word cache tests check every one of them against the full layout.
_CANDIDATES = [
    (0x20, 0x7E),
    (0xA0, 0xAC),
    (0xAE, 0x2E9),
    (0x2EC, 0x2FF),
    (0x2010, 0x2026),
    (0x2030, 0x205E),
    (0x20A0, 0x20C0),
]
MAX_UNIT_CHARS = 64  # longer tokens (URLs, base64) are rarely seen twice: full layout
MAX_UNITS = 100_000  # cached units per Renderer; when full, the most recently used half is kept
MAX_COLUMNS = 6_000_000  # cached grey columns per Renderer (96 MB at P = 16); likewise
_GAP_SPACES = 3  # new units are drawn this many space widths apart: more than twice any spill (checked)
_BATCH_CHARS = 1200  # characters shaped and drawn at once (< 32767 px with gaps, even at ~20 px a character)


def _covered_chars(fcconfig, font_file: str) -> str:
    """The candidate characters the font file covers, as a regex character class body."""
    fs = fontconfig.FcConfigGetFonts(fcconfig, 0)
    if fs == ffi.NULL or fs.nfont == 0:
        fs = fontconfig.FcConfigGetFonts(fcconfig, 1)  # a single font_file is an application font
    s, cs = ffi.new("unsigned char **"), ffi.new("FcCharSet **")
    charset = None
    for i in range(fs.nfont):
        fontconfig.FcPatternGetString(fs.fonts[i], b"file", 0, s)
        if (
            ffi.string(s[0]).decode() == font_file
            and fontconfig.FcPatternGetCharSet(fs.fonts[i], b"charset", 0, cs) == 0
        ):
            charset = cs[0]
            break
    if charset is None:
        return ""
    ranges, start, prev = [], None, None
    for lo, hi in _CANDIDATES:
        for cp in range(lo, hi + 1):
            if fontconfig.FcCharSetHasChar(charset, cp):
                if start is None or cp != prev + 1:
                    if start is not None:
                        ranges.append((start, prev))
                    start = cp
                prev = cp
    if start is not None:
        ranges.append((start, prev))
    return "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


class Composition(NamedTuple):
    """A text as cached units: unit i is row ids[i] of store's metadata, valid while store.epoch == epoch."""

    store: UnitStore
    epoch: int
    ids: np.ndarray
    width: int  # the text's logical width, px
    n_chars: int


class WordCache:
    def __init__(self, config, fcconfig, fonts):
        self._P = P = config.patch_size
        covered = _covered_chars(fcconfig, fonts.files[0])
        self._composable = re.compile(f"[{covered}]*") if covered else None
        self._scratch = lay = Layout(config, fcconfig, fonts, 32767, P)
        self._store = UnitStore(P, MAX_UNITS, MAX_COLUMNS)
        self._clock = 0  # compositions so far: when a unit was last used
        self.laid_out = 0  # units that had to be shaped (cache misses; the bench reports them)
        self.compactions = 0
        # Where Pango puts a line of the first font's baseline
        lay.set_text("x", False)
        _, height, _ = lay.size()
        top = P / 2 - height / 2 - 2  # where the Renderer puts the layout's top-left corner
        baseline = top + pango.pango_layout_get_baseline(lay.layout) / PANGO_SCALE
        if baseline * 256 != round(baseline * 256):
            # cairo keeps the current point in 24.8 fixed point: show_layout adds the baseline after that
            # rounding, show_glyph_string before it; they agree only where the sum is exact
            self._composable = None
        self._shaper = RunShaper(lay, 4 * _BATCH_CHARS)
        self._masks = GlyphMasks(lay, self._shaper.font, baseline, P)
        self._gap_px = _GAP_SPACES * int(self._shaper.shape(b" ", 1)[0]) // PANGO_SCALE
        printable = "".join(map(chr, range(0x20, 0x7F)))
        self._ascii = self._composable is not None and self._composable.fullmatch(printable) is not None
        self._empty = Composition(self._store, -1, np.zeros(0, np.int64), 0, 0)

    # -------------------------------------------------------------------------------- used by the Renderer
    def compose(self, t: str) -> Composition | None:
        """t as cached units (shaping those not seen yet), or None when it must be laid out in full. Another
        compose may compact the store: see valid()."""
        if t.isascii():
            if not (self._ascii and t.isprintable()):
                return None
        elif self._composable is None or self._composable.fullmatch(t) is None:
            return None
        if not t:
            return self._empty
        store, ids = self._ids(t)
        if ids is None:
            return None
        return Composition(store, store.epoch, ids, kernels.units_width(ids, store.meta), len(t))

    def valid(self, c: Composition) -> bool:
        """Whether a composition's unit ids still hold (no compaction since it was made)."""
        return c.epoch == c.store.epoch or len(c.ids) == 0

    def patches(self, parts: list[tuple[int, Composition]], n_text: int, black: list[int]) -> np.ndarray:
        """(n_text + 1, P, P) grey patches (the text patches, then the end patch): white, each composition's
        units from its x (with their spilled ink), clipped at the end patch; the end patch and the patches in
        `black` black."""
        P = self._P
        limit = n_text * P
        strip = np.empty(((n_text + 1) * P, P), np.uint8)  # column-major
        strip[:limit] = 255
        strip[limit:] = 0
        for x, c in parts:
            s = c.store
            kernels.put_units(strip, x, limit, c.ids, s.meta, s.grey, s.spill_col, s.spill_alpha)
        for i in black:
            strip[i * P : (i + 1) * P] = 0
        return kernels.columns_to_patches(strip, n_text + 1)

    def char_patches(self, c: Composition, x: int, n: int, n_text: int) -> np.ndarray:
        """int32 (n, 2): as Renderer._char_patches of the composition's extents placed at x."""
        out = np.empty((n, 2), np.int32)
        s = c.store
        kernels.unit_char_patches(c.ids, s.meta, s.ext, out[: c.n_chars], x, self._P, n_text)
        out[c.n_chars :] = min(math.ceil((x + c.width) / self._P), n_text)
        return out

    def extents(self, c: Composition) -> np.ndarray:
        """float32 (n_chars, 2): each character's logical x-range in px from the text's start."""
        return kernels.unit_extents(c.ids, c.store.meta, c.store.ext, c.n_chars)

    def measure(self, t: str) -> int | None:
        c = self.compose(t)
        return None if c is None else c.width

    def char_extents(self, t: str) -> np.ndarray | None:
        c = self.compose(t)
        return None if c is None else self.extents(c)

    # ----------------------------------------------------------------------------------------- internals
    def _ids(self, t: str):
        """(store, int64 ids of t's units), shaping units not seen yet; ids None if any unit must take the
        full layout."""
        store = self._store
        b, n_tokens = t.encode(), t.count(" ") + 1
        ids = store.lookup(b, n_tokens)
        if ids.min() < 0:
            tokens = t.split(" ")
            missing = list(dict.fromkeys([tokens[i] for i in np.flatnonzero(ids < 0).tolist()]))
            if not store.unusable.isdisjoint(missing):
                return store, None
            if store.n + len(missing) > MAX_UNITS or store.cols > MAX_COLUMNS:
                self.compactions += 1
                store.compact(MAX_UNITS // 2, MAX_COLUMNS // 2)
                ids = store.lookup(b, n_tokens)
                missing = list(dict.fromkeys([tokens[i] for i in np.flatnonzero(ids < 0).tolist()]))
            self._add(missing)
            ids = store.lookup(b, n_tokens)
            if ids.min() < 0:
                return store, None
        store.last[ids] = self._clock
        self._clock += 1
        return store, ids

    def _add(self, tokens: list[str]) -> None:
        """Shape, draw and cache new units, in batches of about _BATCH_CHARS characters."""
        self.laid_out += len(tokens)
        batch, size = [], 0
        for t in tokens:
            if len(t) > MAX_UNIT_CHARS:
                self._store.unusable.add(t)
                continue
            batch.append(t)
            size += len(t) + 1
            if size >= _BATCH_CHARS:
                self._add_batch(batch)
                batch, size = [], 0
        if batch:
            self._add_batch(batch)

    def _add_batch(self, tokens: list[str]) -> None:
        """Shape "token token ... token " as one run, draw it with every unit moved a gap further right than
        the one before (a wider space glyph: glyph masks are the same at any whole-pixel shift), cut the units
        out of the drawing."""
        lay, store, gap = self._scratch, self._store, self._gap_px
        k = len(tokens)
        text = " ".join(tokens) + " "
        b = text.encode()
        shaper, masks = self._shaper, self._masks
        w = shaper.shape(b, len(text))
        width = int(w.sum()) // PANGO_SCALE + (k + 1) * gap
        gs = shaper.glyphs  # (every unit a gap further right than the last: its space glyph widened)
        placed = None
        if width + 64 < lay.width:
            placed = kernels.place_units(b, w, gs.glyphs, shaper.clusters(), k, gap)
        if placed is None:
            if k > 1:  # too wide: halve; a glyph missing from the font: find the odd one out
                for half in (tokens[: k // 2], tokens[k // 2 :]):
                    self._add_batch(half)
            else:
                store.unusable.add(tokens[0])
            return
        o, adv, tok, nch, first, rel = placed
        grey = masks.draw(gs, gap, width + 64)  # (ink stays within a few px of the advances)
        if grey is None:  # a glyph without a mask: cairo draws the batch
            grey = masks.cairo_draw(gs, gap, width + 64)
        bad, spill_n, spill = kernels.find_spills(grey, o, o + adv, gap, (gap - 1) // 2)
        redo = []
        if bad.any():
            if k == 1:
                store.unusable.add(tokens[0])
                return
            keep = np.flatnonzero(~bad)
            redo = [tokens[i] for i in np.flatnonzero(bad).tolist()]
            tokens = [tokens[i] for i in keep.tolist()]
            o, adv, tok, first, nch, spill_n = (a[keep] for a in (o, adv, tok, first, nch, spill_n))
        store.append(tokens, grey, o, adv, tok, rel, first, nch, spill, spill_n)
        for t in redo:  # each alone (after storing: the scratch surface and glyph string are reused)
            self._add_batch([t])
