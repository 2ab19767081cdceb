"""WordCache: compose strips from cached word renders instead of laying out every chunk.

Laying text out (itemise, shape, break analysis) is ~65% of the cost of a full render and drawing ~30%, and
text is Zipfian, so a word drawn once is cheap to reuse. A text is split at its spaces into tokens; a unit is
a token with the space after it ("word "; an empty token is a lone space), found by its token's bytes in a
hash table. New units are shaped together as one run (as Pango shapes a run, without a layout), drawn a gap
apart from cached glyph masks (or by cairo), and cut out; each keeps its grey columns, its advance, the ink it
spills left or right of its advance, and its characters' extents, in flat arrays indexed by a unit id. A strip
is then the units' columns side by side, each at x = the sum of the earlier advances. The loops are C
(kernels.c); a full cache keeps its most recently used half.

That is pixel-identical to the full layout (tests/renderer/test_renderer_word_cache.py proves it on thousands
of strings) because, with cairo's hint-metrics on and rounded glyph positions, every advance and glyph
position is a whole pixel, glyph masks are the same at any whole-pixel shift, nothing is shaped across a
space, and cairo combines the masks of one glyph run by saturating addition, which is how spilled ink is
added back. That holds where the whole line is one run of the first font, shaped as Pango shapes it, so the
cache takes only texts whose every character that font has among Latin letters, digits, common punctuation
and currency signs (no RTL, no combining marks, no emoji). Anything else returns None and the caller lays the
text out in full.
"""

from __future__ import annotations

import math
import mmap
import re
from typing import NamedTuple

import numpy as np

from pixelgpt.renderer import kernels
from pixelgpt.renderer._capi import (
    PANGO_SCALE,
    PANGO_SHAPE_ROUND_POSITIONS,
    cairo,
    ffi,
    fontconfig,
    gobject,
    pango,
    pangocairo,
)
from pixelgpt.renderer.layout import Layout

# Candidates: Basic Latin, Latin-1 (no soft hyphen), Latin Extended-A/B, general punctuation, currency signs;
# only those the first font covers are used (so no fallback font can change the line's height).
_CANDIDATES = [
    (0x20, 0x7E),
    (0xA0, 0xAC),
    (0xAE, 0x24F),
    (0x2010, 0x2027),
    (0x2030, 0x205E),
    (0x20A0, 0x20C0),
]
MAX_UNIT_CHARS = 64  # longer tokens (URLs, base64) are rarely seen twice: full layout
MAX_UNITS = 100_000  # cached units per Renderer; when full, the most recently used half is kept
MAX_COLUMNS = 6_000_000  # cached grey columns per Renderer (96 MB at P = 16); likewise
_GAP_SPACES = 3  # new units are drawn this many space widths apart: more than twice any spill (checked)
_BATCH_CHARS = 1200  # characters shaped and drawn at once (< 32767 px with gaps, even at ~20 px a character)
_GLYPH_BYTES = ffi.sizeof("PangoGlyphInfo")  # glyph, width, x and y offset, attributes
_GLYPH = np.dtype({"names": ["glyph", "width"], "formats": ["<u4", "<i4"], "itemsize": _GLYPH_BYTES})
_MAX_GLYPH = 65536  # glyph ids of the first font with a cached mask (special ids, e.g. "empty", are above)
_MASK_LEFT, _MASK_STEP = 24, 64  # a glyph's mask is read from [origin - LEFT, origin - LEFT + STEP) px
# A unit's metadata row (int64, kernels.c's order): ADV advance of token + space, px; TOK advance of the
# token alone; COL0 its first grey column in the arena; EXT0 its first row of character extents (from its x),
# NCH how many (len(token) + 1); SP0, SPN its spilled-ink columns in the spill arenas (SPN = 0: none); KEY0,
# KEYN its token's UTF-8 bytes in the key arena
ADV, TOK, COL0, EXT0, NCH, SP0, SPN, KEY0, KEYN = range(kernels.NMETA)


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


def _arena(shape: tuple, dtype) -> np.ndarray:
    """A zeroed array in its own anonymous mapping: pages cost memory only once touched, and, unlike numpy's
    large allocations, it is not marked for transparent huge pages, whose faults can stall for milliseconds
    while the kernel compacts memory (measured: 4.8 ms, every ~2 MB appended)."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(n, 1)), dtype, int(np.prod(shape))).reshape(shape)


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    """a, or a copy with room for at least `rows` rows (doubling)."""
    if rows <= len(a):
        return a
    out = np.empty((max(rows, 2 * len(a)),) + a.shape[1:], a.dtype)
    out[: len(a)] = a
    return out


class _Store:
    """Cached units in flat arrays: metadata rows by id; grey columns, character extents, spilled ink and the
    tokens' bytes in arenas the rows point into; a hash table from token bytes to id (kernels.c)."""

    def __init__(self, P: int):
        self.unusable: set[str] = set()  # tokens that must take the full layout
        self.n = self.cols = self.chars = self.spilled = self.keyed = 0  # rows used of each array below
        self.epoch = 0  # compactions so far (they renumber the units)
        # Room for a full cache from the start: untouched pages cost no memory, and the arrays need never be
        # copied to grow (they still can, for one text with more new units than the slack)
        units, cols = MAX_UNITS + 4096, MAX_COLUMNS + 2**20
        self.meta = _arena((units, kernels.NMETA), np.int64)
        self.last = _arena((units,), np.int64)  # when each unit was last used (a count of compositions)
        self.grey = _arena((cols, P), np.uint8)
        self.ext = _arena((units * 16, 2), np.float32)  # (characters: ~6 a unit in prose)
        self.spill_col = _arena((units,), np.int32)  # relative to the unit's x
        self.spill_alpha = _arena((units, P), np.uint8)
        self.keys = _arena((units * 16,), np.uint8)
        self.slots = _arena((1 << (2 * units - 1).bit_length(),), np.int64)  # under half full

    def append(self, tokens, grey, col0, adv, tok, ext, ext0, nch, spill, spill_n, last=0) -> None:
        """Store units i: grey columns grey[col0[i] : col0[i] + adv[i]], character extents (from the unit's x)
        ext[ext0[i] : ext0[i] + nch[i]], token advance tok[i], and spill_n[i] spilled columns: in order, rows
        of spill = (columns from the unit's x, alpha (k, P)); tokens, the units' tokens (their keys)."""
        k = len(tokens)
        if k == 0:
            return
        n, c, x, s, y = self.n, self.cols, self.chars, self.spilled, self.keyed
        cols, chars = int(adv.sum()), int(nch.sum())
        encoded = [t.encode() for t in tokens]
        key_n = np.array(list(map(len, encoded)), np.int64)
        keys, key0 = np.frombuffer(b"".join(encoded), np.uint8), np.cumsum(key_n) - key_n
        self.meta = _grow(self.meta, n + k)
        self.last = _grow(self.last, n + k)
        self.grey = _grow(self.grey, c + cols)
        self.ext = _grow(self.ext, x + chars)
        self.spill_col = _grow(self.spill_col, s + len(spill[0]))
        self.spill_alpha = _grow(self.spill_alpha, s + len(spill[0]))
        self.keys = _grow(self.keys, y + int(key_n.sum()))
        kernels.fill_meta(self.meta[n : n + k], adv, tok, nch, spill_n, key_n, c, x, s, y)
        self.cols += kernels.copy_rows(self.grey[c:], grey, col0, adv, cols)
        self.chars += kernels.copy_rows(self.ext[x:], ext, ext0, nch, chars)
        self.keyed += kernels.copy_rows(self.keys[y:], keys, key0, key_n, int(key_n.sum()))
        self.spill_col[s : s + len(spill[0])] = spill[0]
        self.spill_alpha[s : s + len(spill[0])] = spill[1]
        self.spilled += len(spill[0])
        self.last[n : n + k] = last
        self.n += k
        if 2 * self.n > len(self.slots):  # (one text with very many new units): a bigger table
            self.slots = np.zeros(1 << (4 * self.n).bit_length(), np.int64)
            kernels.insert_units(self.slots, self.meta, self.keys, 0, self.n)
        else:
            kernels.insert_units(self.slots, self.meta, self.keys, n, k)

    def compact(self, max_units: int, max_cols: int) -> None:
        """Keep the most recently used units, at most max_units of them in max_cols columns, moving their data
        to the front of the arrays (in place: no new memory to fault in)."""
        order = np.argsort(-self.last[: self.n], kind="stable")
        fit = int(np.searchsorted(np.cumsum(self.meta[order, ADV]), max_cols, side="right"))
        keep = np.sort(order[: min(max_units, fit)])  # (ascending ids: every range moves down or stays)
        m = self.meta[keep]
        new = m.copy()
        used = {}
        for arrays, first, count in (
            ((self.grey,), COL0, ADV),
            ((self.ext,), EXT0, NCH),
            ((self.spill_col, self.spill_alpha), SP0, SPN),
            ((self.keys,), KEY0, KEYN),
        ):
            starts, counts = np.ascontiguousarray(m[:, first]), np.ascontiguousarray(m[:, count])
            used[first] = int(counts.sum())
            for a in arrays:
                kernels.copy_rows(a, a, starts, counts, used[first])
            new[:, first] = np.cumsum(counts) - counts
        k = len(keep)
        self.epoch += 1
        self.meta[:k] = new
        self.last[:k] = self.last[keep]
        self.n, self.cols, self.chars = k, used[COL0], used[EXT0]
        self.spilled, self.keyed = used[SP0], used[KEY0]
        self.unusable = set()
        self.slots[:] = 0
        kernels.insert_units(self.slots, self.meta, self.keys, 0, k)


class Composition(NamedTuple):
    """A text as cached units: unit i is row ids[i] of store's metadata, valid while store.epoch == epoch."""

    store: _Store
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
        self._store = _Store(P)
        self._clock = 0  # compositions so far: when a unit was last used
        self.laid_out = 0  # units that had to be shaped (cache misses; the bench reports them)
        self.compactions = 0
        # What Pango does with a line of the first font: its analysis (font, script, language) and baseline
        lay.set_text("x", False)
        _, height, _ = lay.size()
        top = P / 2 - height / 2 - 2  # where the Renderer puts the layout's top-left corner
        self._baseline = top + pango.pango_layout_get_baseline(lay.layout) / PANGO_SCALE
        if self._baseline * 256 != round(self._baseline * 256):
            # cairo keeps the current point in 24.8 fixed point: show_layout adds the baseline after that
            # rounding, show_glyph_string before it; they agree only where the sum is exact
            self._composable = None
        it = pango.pango_layout_get_iter(lay.layout)
        try:
            analysis = pango.pango_layout_iter_get_run_readonly(it).item.analysis
            self._font = ffi.gc(gobject.g_object_ref(analysis.font), gobject.g_object_unref)
            self._analysis = ffi.new("PangoAnalysis *")
            ffi.memmove(self._analysis, ffi.addressof(analysis), ffi.sizeof("PangoAnalysis"))
            self._analysis.extra_attrs = ffi.NULL
        finally:
            pango.pango_layout_iter_free(it)
        self._glyphs = ffi.gc(pango.pango_glyph_string_new(), pango.pango_glyph_string_free)
        # Each glyph's mask (its ink by column), drawn once by cairo; new units are drawn with them. By glyph
        # id: the mask's first row in _masks, its first column from the glyph's origin, its columns
        self._mask_glyphs = ffi.gc(pango.pango_glyph_string_new(), pango.pango_glyph_string_free)
        self._gm = np.full((_MAX_GLYPH, 3), -1, np.int64)
        self._masks = np.zeros((4096, P), np.uint8)
        self._n_masks = 0
        self._widths = ffi.new("int[]", 4 * _BATCH_CHARS)
        self._gap_px = _GAP_SPACES * int(self._shape(b" ", 1)[0]) // PANGO_SCALE
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
        ids = kernels.lookup_tokens(b, store.slots, store.meta, store.keys, n_tokens)
        if ids.min() < 0:
            tokens = t.split(" ")
            missing = list(dict.fromkeys([tokens[i] for i in np.flatnonzero(ids < 0).tolist()]))
            if not store.unusable.isdisjoint(missing):
                return store, None
            if store.n + len(missing) > MAX_UNITS or store.cols > MAX_COLUMNS:
                self.compactions += 1
                store.compact(MAX_UNITS // 2, MAX_COLUMNS // 2)
                ids = kernels.lookup_tokens(b, store.slots, store.meta, store.keys, n_tokens)
                missing = list(dict.fromkeys([tokens[i] for i in np.flatnonzero(ids < 0).tolist()]))
            self._add(missing)
            ids = kernels.lookup_tokens(b, store.slots, store.meta, store.keys, n_tokens)
            if ids.min() < 0:
                return store, None
        store.last[ids] = self._clock
        self._clock += 1
        return store, ids

    def _shape(self, b: bytes, n_chars: int) -> np.ndarray:
        """Shape UTF-8 text as Pango shapes one run of the first font into self._glyphs; returns each
        character's advance in Pango units."""
        gs = self._glyphs
        pango.pango_shape_with_flags(b, len(b), b, len(b), self._analysis, gs, PANGO_SHAPE_ROUND_POSITIONS)
        if n_chars > len(self._widths):
            self._widths = ffi.new("int[]", n_chars)
        pango.pango_glyph_string_get_logical_widths(gs, b, len(b), 0, self._widths)
        return np.frombuffer(ffi.buffer(self._widths, 4 * n_chars), np.int32)

    def _draw_from_masks(self, ncols: int) -> np.ndarray | None:
        """The glyph string self._glyphs drawn from cached glyph masks (caching those not seen yet) into a
        white column-major strip of ncols columns, from x = gap; None where that cannot be done exactly."""
        gs = self._glyphs
        ids = np.frombuffer(ffi.buffer(gs.glyphs, _GLYPH_BYTES * gs.num_glyphs), _GLYPH)["glyph"]
        if not (ids < _MAX_GLYPH).all():
            return None
        new = self._gm[ids, 0] == -1
        if new.any():
            self._cache_masks(np.unique(ids[new]))
        grey = np.full((ncols, self._P), 255, np.uint8)
        ok = kernels.draw_glyphs(
            grey, self._gap_px, gs.glyphs, _GLYPH_BYTES, gs.num_glyphs, self._gm, self._masks
        )
        return grey if ok else None

    def _cache_masks(self, ids: np.ndarray) -> None:
        """Draw glyphs _MASK_STEP px apart with cairo, as a run draws them, and keep each one's ink."""
        gs = self._mask_glyphs
        per_draw = self._scratch.width // _MASK_STEP - 2  # as many as the surface holds
        for i in range(0, len(ids), per_draw):
            part = ids[i : i + per_draw]
            pango.pango_glyph_string_set_size(gs, len(part))
            records = ffi.buffer(gs.glyphs, _GLYPH_BYTES * len(part))
            np.frombuffer(records, np.uint8)[:] = 0  # no x or y offset, no attributes
            glyph = np.frombuffer(records, _GLYPH)
            glyph["glyph"], glyph["width"] = part, _MASK_STEP * PANGO_SCALE
            np.frombuffer(ffi.buffer(gs.log_clusters, 4 * len(part)), np.int32)[:] = 0
            grey = self._cairo_draw(gs, _MASK_STEP, _MASK_STEP * (len(part) + 2))
            ink = ffi.new("PangoRectangle *")
            for j, g in enumerate(part.tolist()):
                window = grey[_MASK_STEP * (j + 1) - _MASK_LEFT :][:_MASK_STEP]
                inked = np.flatnonzero((window != 255).any(axis=1))
                pango.pango_font_get_glyph_extents(self._font, g, ink, ffi.NULL)
                # (Pango's ink box well inside the window: nor can its ink reach a neighbour's window)
                left, right = ink.x / PANGO_SCALE, (ink.x + ink.width) / PANGO_SCALE
                inside = left > -_MASK_LEFT + 2 and right < _MASK_STEP - _MASK_LEFT - 2
                if not inside or len(inked) and (inked[0] == 0 or inked[-1] == _MASK_STEP - 1):
                    self._gm[g] = (-2, 0, 0)  # ink may reach beyond the window: leave this glyph to cairo
                    continue
                c0, c1 = (int(inked[0]), int(inked[-1]) + 1) if len(inked) else (0, 0)
                self._masks = _grow(self._masks, self._n_masks + c1 - c0)
                self._masks[self._n_masks : self._n_masks + c1 - c0] = 255 - window[c0:c1]
                self._gm[g] = (self._n_masks, c0 - _MASK_LEFT, c1 - c0)
                self._n_masks += c1 - c0

    def _cairo_draw(self, gs, x: int, ncols: int) -> np.ndarray:
        """A glyph string drawn by cairo from (x, the baseline) on the scratch surface, read back as a
        column-major grey strip of ncols columns (R = G = B: the first font has no colour glyphs)."""
        lay = self._scratch
        lay.clear()
        cairo.cairo_set_source_rgb(lay.cr, 0, 0, 0)
        cairo.cairo_move_to(lay.cr, x, self._baseline)
        pangocairo.pango_cairo_show_glyph_string(lay.cr, self._font, gs)
        lay.dirty = ncols
        lay.flush()
        return kernels.surface_columns(lay.pixels, ncols, 1)

    def _clusters(self) -> np.ndarray:
        """The glyph string's log_clusters: each glyph's first byte in the text."""
        gs = self._glyphs
        return np.frombuffer(ffi.buffer(gs.log_clusters, 4 * gs.num_glyphs), np.int32)

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
        w = self._shape(b, len(text))
        width = int(w.sum()) // PANGO_SCALE + (k + 1) * gap
        gs = self._glyphs  # (every unit a gap further right than the last: its space glyph widened)
        placed = None
        if width + 64 < lay.width:
            placed = kernels.place_units(b, w, gs.glyphs, _GLYPH_BYTES, self._clusters(), k, gap)
        if placed is None:
            if k > 1:  # too wide: halve; a glyph missing from the font: find the odd one out
                for half in (tokens[: k // 2], tokens[k // 2 :]):
                    self._add_batch(half)
            else:
                store.unusable.add(tokens[0])
            return
        o, adv, tok, nch, first, rel = placed
        grey = self._draw_from_masks(width + 64)  # (ink stays within a few px of the advances)
        if grey is None:  # a glyph without a mask: cairo draws the batch
            grey = self._cairo_draw(gs, gap, width + 64)
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
