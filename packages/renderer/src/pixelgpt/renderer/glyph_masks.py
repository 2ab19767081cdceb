"""GlyphMasks: each glyph's ink, drawn once by cairo; glyph strings drawn from it in C as cairo draws them.

With hint-metrics on and rounded glyph positions every glyph sits at a whole pixel, where its mask is the same
at any shift, and cairo adds the masks of one run by saturating addition; kernels.draw_glyphs does the same
from the cached masks. A glyph whose ink might reach beyond the window it is cut from gets no mask, and the
strings that use it are drawn by cairo.
"""

from __future__ import annotations

import numpy as np

from pixelgpt.renderer import kernels
from pixelgpt.renderer._capi import PANGO_SCALE, cairo, ffi, pango, pangocairo
from pixelgpt.renderer.layout import Layout
from pixelgpt.renderer.shaping import glyph_records
from pixelgpt.renderer.unit_store import grow

MAX_GLYPH = 65536  # glyph ids of the first font with a cached mask (special ids, e.g. "empty", are above)
_MASK_LEFT, _MASK_STEP = 24, 64  # a glyph's mask is read from [origin - LEFT, origin - LEFT + STEP) px
NOT_DRAWN, NO_MASK = -1, -2  # by_glyph's first row for a glyph not drawn yet / left to cairo


class GlyphMasks:
    def __init__(self, lay: Layout, font, baseline: float, P: int):
        self._lay, self._font, self._baseline, self._P = lay, font, baseline, P
        self._scratch = ffi.gc(pango.pango_glyph_string_new(), pango.pango_glyph_string_free)
        # By glyph id: its mask's first row in `masks`, its first column from the glyph's origin, its columns
        self.by_glyph = np.full((MAX_GLYPH, 3), NOT_DRAWN, np.int64)
        self.masks = np.zeros((4096, P), np.uint8)  # (rows: columns of ink, P px each)
        self.rows = 0

    def draw(self, gs, x0: int, ncols: int) -> np.ndarray | None:
        """Glyph string gs drawn from the masks (caching the ones not seen yet) into a white column-major
        strip of ncols columns, origin at column x0; None where that cannot be exact (then: cairo_draw)."""
        ids = glyph_records(gs)["glyph"]
        if not (ids < MAX_GLYPH).all():
            return None
        new = self.by_glyph[ids, 0] == NOT_DRAWN
        if new.any():
            self._add(np.unique(ids[new]))
        grey = np.full((ncols, self._P), 255, np.uint8)
        ok = kernels.draw_glyphs(grey, x0, gs.glyphs, gs.num_glyphs, self.by_glyph, self.masks)
        return grey if ok else None

    def cairo_draw(self, gs, x: int, ncols: int) -> np.ndarray:
        """Glyph string gs drawn by cairo from (x, the baseline) on the scratch surface, read back as a
        column-major grey strip of ncols columns (R = G = B: the first font has no colour glyphs)."""
        lay = self._lay
        lay.clear()
        cairo.cairo_set_source_rgb(lay.cr, 0, 0, 0)
        cairo.cairo_move_to(lay.cr, x, self._baseline)
        pangocairo.pango_cairo_show_glyph_string(lay.cr, self._font, gs)
        lay.dirty = ncols
        lay.flush()
        return kernels.surface_columns(lay.pixels, ncols, 1)

    def _add(self, ids: np.ndarray) -> None:
        """Draw glyphs _MASK_STEP px apart with cairo, as a run draws them, and keep each one's ink."""
        gs = self._scratch
        per_draw = self._lay.width // _MASK_STEP - 2  # as many as the surface holds
        for i in range(0, len(ids), per_draw):
            part = ids[i : i + per_draw]
            pango.pango_glyph_string_set_size(gs, len(part))
            records = glyph_records(gs)
            np.frombuffer(ffi.buffer(gs.glyphs, records.nbytes), np.uint8)[:] = 0  # no offsets, no attributes
            records["glyph"], records["width"] = part, _MASK_STEP * PANGO_SCALE
            np.frombuffer(ffi.buffer(gs.log_clusters, 4 * len(part)), np.int32)[:] = 0
            grey = self.cairo_draw(gs, _MASK_STEP, _MASK_STEP * (len(part) + 2))
            ink = ffi.new("PangoRectangle *")
            for j, g in enumerate(part.tolist()):
                window = grey[_MASK_STEP * (j + 1) - _MASK_LEFT :][:_MASK_STEP]
                inked = np.flatnonzero((window != 255).any(axis=1))
                pango.pango_font_get_glyph_extents(self._font, g, ink, ffi.NULL)
                # (Pango's ink box well inside the window: nor can its ink reach a neighbour's window)
                left, right = ink.x / PANGO_SCALE, (ink.x + ink.width) / PANGO_SCALE
                inside = left > -_MASK_LEFT + 2 and right < _MASK_STEP - _MASK_LEFT - 2
                if not inside or len(inked) and (inked[0] == 0 or inked[-1] == _MASK_STEP - 1):
                    self.by_glyph[g] = (NO_MASK, 0, 0)  # ink may reach beyond the window: leave it to cairo
                    continue
                c0, c1 = (int(inked[0]), int(inked[-1]) + 1) if len(inked) else (0, 0)
                self.masks = grow(self.masks, self.rows + c1 - c0)
                self.masks[self.rows : self.rows + c1 - c0] = 255 - window[c0:c1]
                self.by_glyph[g] = (self.rows, c0 - _MASK_LEFT, c1 - c0)
                self.rows += c1 - c0
