"""WordCache: compose strips from cached word renders instead of re-shaping every chunk.

Shaping is ~65% of the cost of a full layout, and text is Zipfian, so a word drawn once is cheap to reuse.
A text is split into units, each a run of non-spaces with its trailing spaces ("word  "). Units not seen
before are laid out together in one line, far apart, and cut out of it; each keeps its grey pixels, advance,
the ink it spills left or right of its advance, and its characters' extents. A strip is then the units'
pixels side by side, each at x = the sum of the earlier advances.

That is pixel-identical to the full layout (tests/renderer/test_renderer_word_cache.py proves it on hundreds
of strings) because, with cairo's hint-metrics on, every advance and glyph position is a whole pixel, glyph
masks are the same at any whole-pixel shift, nothing is shaped across a space, and cairo combines the masks of
one glyph run by saturating addition, which is how spilled ink is added back. That holds where the whole line
is one run of the first font, so the cache takes only texts whose every character that font has among
Latin letters, digits, common punctuation and currency signs (no RTL, no combining marks, no emoji).
Anything else returns None and the caller lays the text out in full.
"""

from __future__ import annotations

import re
from operator import itemgetter

import numpy as np

from pixelgpt.renderer._capi import ffi, fontconfig, pango

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
_UNITS = re.compile(r"[^ ]+ *| +")
MAX_UNIT_CHARS = 64
MAX_UNITS = 100_000  # cached units per Renderer (two generations of MAX_UNITS / 2), ~2 KB each
_GAP = " " * 3  # between units drawn together: wider than twice any spill (checked)
_BATCH_CHARS = 2000
# A unit's record: (advance px, grey columns (advance, P) as bytes, spill columns or None, spill alpha (k, P)
# or None, character extents (n, 2) float32 as bytes, n characters). Bytes, because
# joining a few hundred of them is several times faster than np.concatenate, and they keep no batch alive.
_ADV, _GREY, _EXT, _N = itemgetter(0), itemgetter(1), itemgetter(4), itemgetter(5)


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


def _inked_columns(grey: np.ndarray) -> np.ndarray:
    """(columns, P) uint8, P a multiple of 8 -> bool (columns,): has the column any ink? ANDs the column's
    8-byte words: numpy's reductions over a 16-wide axis are ten times slower."""
    words = grey.view(np.uint64)
    white = words[:, 0].copy()
    for k in range(1, words.shape[1]):
        white &= words[:, k]
    return white != np.uint64(2**64 - 1)


class WordCache:
    def __init__(self, config, fcconfig, fonts):
        from pixelgpt.renderer.renderer import Layout  # (import cycle)

        self._P = config.patch_size
        covered = _covered_chars(fcconfig, fonts.files[0])
        self._composable = re.compile(f"[{covered}]*") if covered else None
        self._scratch = Layout(
            config, fcconfig, fonts, 32767, config.patch_size
        )  # a batch too wide is halved
        # Two generations: new and recently used units live in _units; when it is full it becomes _old (the
        # previous _old is dropped) and units found in _old move back, so the working set survives.
        self._units: dict[str, tuple | None] = {}
        self._old: dict[str, tuple | None] = {}
        self.looked_up = self.laid_out = 0  # units asked for / units that had to be laid out (cache misses)
        self._scratch.set_text("x", False)
        self._metrics = self._line_metrics()
        self._scratch.set_text(_GAP, False)
        self._gap_px = self._scratch.size()[0]
        self._y = self._P / 2 - self._metrics[0] / 2 - 2

    def _line_metrics(self) -> tuple[int, int]:
        _, height, _ = self._scratch.size()
        return height, pango.pango_layout_get_baseline(self._scratch.layout)

    def _add(self, units: list[str]) -> None:
        """Lay out new units together (batches of ~_BATCH_CHARS characters) and cache each one's record."""
        self.laid_out += len(units)
        batch, size = [], 0
        for u in units:
            if len(u) > MAX_UNIT_CHARS:
                self._store(u, None)
                continue
            batch.append(u)
            size += len(u) + len(_GAP)
            if size >= _BATCH_CHARS:
                self._add_batch(batch)
                batch, size = [], 0
        if batch:
            self._add_batch(batch)

    def _store(self, unit: str, rec) -> None:
        self._make_room(1)
        self._units[unit] = rec

    def _make_room(self, n: int) -> None:
        if len(self._units) + n > MAX_UNITS // 2:
            self._old, self._units = self._units, {}

    def _add_batch(self, units: list[str]) -> None:
        lay = self._scratch
        units = list(units)
        text = _GAP + _GAP.join(units) + _GAP
        lay.clear()
        lay.set_text(text, False)
        width, height, right = lay.size()
        baseline = pango.pango_layout_get_baseline(lay.layout)
        if right + 2 >= lay.width and len(units) > 1:
            self._add_batch(units[: len(units) // 2])
            self._add_batch(units[len(units) // 2 :])
            return
        if (height, baseline) != self._metrics or right + 2 >= lay.width or lay.tofu():
            if len(units) > 1:  # find the odd one out
                for u in units:
                    self._add_batch([u])
            else:
                self._store(units[0], None)
            return
        lay.draw(0, self._y, right)
        lay.flush()
        # R = G = B: the first font has no colour glyphs, and every character is the first font's (charset)
        grey = np.ascontiguousarray(lay.pixels[:, : lay.dirty, 1].T)  # (columns, P)
        ink = (grey != 255).any(axis=1) if self._P % 8 else _inked_columns(grey)
        inked = np.concatenate([[0], np.cumsum(ink)])  # inked[b] - inked[a]: ink columns in [a, b)
        ext = lay.char_extents(len(text), width)
        gap, half = self._gap_px, (self._gap_px - 1) // 2
        lens = np.fromiter(map(len, units), np.int64, len(units))
        first = len(_GAP) + np.concatenate([[0], np.cumsum(lens + len(_GAP))[:-1]])
        o = ext[first, 0].astype(np.int64)
        e = ext[first + lens - 1, 1].astype(np.int64)
        # the middle of every gap must be white, so the ink on each side of it is that side's unit's spill
        mid_a, mid_b = np.concatenate([[0], e + half]), np.concatenate([[o[0] - half], e + gap - half])
        bad_gap = (
            inked[mid_b] - inked[mid_a]
        ) > 0  # gap i lies before unit i (gap len(units): after the last)
        if bad_gap.any():
            redo = np.flatnonzero(bad_gap[:-1] | bad_gap[1:]).tolist()
            if len(units) == 1:
                self._store(units[0], None)
                return
            for i in redo:
                self._add_batch([units[i]])
        else:
            redo = []
        spills = np.flatnonzero((inked[o] - inked[o - half]) + (inked[e + half] - inked[e]))
        origin = np.repeat(np.concatenate([[0], o]), np.concatenate([[len(_GAP)], lens + len(_GAP)]))
        rel = ext - origin.astype(np.float32)[:, None]
        adv = (e - o).astype(np.int32)
        # slices of two bytes objects: one tobytes() per batch, not two per unit
        grey_b, rel_b, P = grey.tobytes(), rel.tobytes(), self._P
        recs = [
            (a, grey_b[b * P : c * P], None, None, rel_b[8 * f : 8 * (f + n)], n)
            for a, b, c, f, n in zip(adv.tolist(), o.tolist(), e.tolist(), first.tolist(), lens.tolist())
        ]
        for i in spills.tolist():
            oi, ei = int(o[i]), int(e[i])
            cols = np.concatenate(
                [np.flatnonzero(ink[oi - half : oi]) + oi - half, np.flatnonzero(ink[ei : ei + half]) + ei]
            )
            recs[i] = recs[i][:2] + (cols - oi, 255 - grey[cols]) + recs[i][4:]  # alpha: (k, P)
        for i in reversed(redo):  # laid out alone above
            del units[i], recs[i]
        self._make_room(len(units))
        self._units.update(zip(units, recs))

    def _lookup(self, t: str):
        if self._composable is None or not self._composable.fullmatch(t):
            return None
        units = _UNITS.findall(t)
        self.looked_up += len(units)
        recs = list(map(self._units.get, units, [False] * len(units)))
        if False in recs:
            missing = [i for i, r in enumerate(recs) if r is False]
            new = []
            for u in dict.fromkeys(units[i] for i in missing):
                r = self._old.pop(u, False)  # seen before the last generation change: move it back
                if r is False:
                    new.append(u)
                else:
                    self._store(u, r)
            self._add(new)
            young, old = self._units, self._old  # a unit added above may already have aged into _old
            for i in missing:
                u = units[i]
                recs[i] = young[u] if u in young else old.get(u)
        if None in recs:
            return None
        return recs

    # -------------------------------------------------------------------------------- used by the Renderer
    def measure(self, t: str) -> int | None:
        recs = self._lookup(t)
        return None if recs is None else sum(r[0] for r in recs)

    def char_extents(self, t: str) -> np.ndarray | None:
        recs = self._lookup(t)
        return None if recs is None else self._extents(recs, self._starts(recs)[0])

    def _extents(self, recs, starts) -> np.ndarray:
        ext = np.frombuffer(b"".join(map(_EXT, recs)), np.float32).reshape(-1, 2)
        return ext + np.repeat(starts.astype(np.float32), list(map(_N, recs)))[:, None]

    @staticmethod
    def _starts(recs) -> tuple[np.ndarray, int]:
        """Each unit's x in the composed run, and the run's width."""
        # advances are small ints (cached objects): reading them touches no per-unit memory but the record
        adv = np.fromiter(map(_ADV, recs), np.int32, len(recs))
        ends = np.cumsum(adv, dtype=np.int64)
        return ends - adv, int(ends[-1])

    def compose(self, t: str):
        """(width, tofu, char extents (float32 px), grey columns (width, P), spill columns, spill alpha
        (k, P)), or None when the text must be laid out in full."""
        recs = self._lookup(t)
        if recs is None:
            return None
        starts, width = self._starts(recs)
        grey = np.frombuffer(b"".join(map(_GREY, recs)), np.uint8).reshape(-1, self._P)
        spill = [(s + r[2], r[3]) for s, r in zip(starts.tolist(), recs) if r[2] is not None]
        cols = alpha = None
        if spill:
            cols = np.concatenate([c for c, _ in spill])
            alpha = np.concatenate([a for _, a in spill])
        return width, 0, self._extents(recs, starts), grey, cols, alpha
