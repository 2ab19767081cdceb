"""RunShaper: shape text as Pango shapes one run of the first font, without a layout.

Laying out a line of the first font once gives the analysis Pango shapes its run with (font, script,
language); shaping new words with that analysis directly skips itemising and line breaking, and gives the
glyphs the full layout would (the word cache checks every batch: kernels.place_units refuses a glyph the font
lacks).
"""

from __future__ import annotations

import numpy as np

from pixelgpt.renderer._capi import PANGO_SHAPE_ROUND_POSITIONS, ffi, gobject, pango
from pixelgpt.renderer.layout import Layout

# Numpy's view of the glyph records (PangoGlyphInfo, pango_structs.h): glyph id and advance
GLYPH_RECORD = np.dtype(
    {
        "names": ["glyph", "width"],
        "formats": ["<u4", "<i4"],
        "offsets": [
            ffi.offsetof("PangoGlyphInfo", "glyph"),
            ffi.offsetof("PangoGlyphInfo", "geometry", "width"),
        ],
        "itemsize": ffi.sizeof("PangoGlyphInfo"),
    }
)


def glyph_records(gs) -> np.ndarray:
    """A glyph string's records as a writable GLYPH_RECORD array (a view: no copy)."""
    return np.frombuffer(ffi.buffer(gs.glyphs, GLYPH_RECORD.itemsize * gs.num_glyphs), GLYPH_RECORD)


class RunShaper:
    def __init__(self, lay: Layout, max_chars: int):
        lay.set_text("x", False)
        it = pango.pango_layout_get_iter(lay.layout)
        try:
            analysis = pango.pango_layout_iter_get_run_readonly(it).item.analysis
            self.font = ffi.gc(gobject.g_object_ref(analysis.font), gobject.g_object_unref)
            self._analysis = ffi.new("PangoAnalysis *")
            ffi.memmove(self._analysis, ffi.addressof(analysis), ffi.sizeof("PangoAnalysis"))
            self._analysis.extra_attrs = ffi.NULL
        finally:
            pango.pango_layout_iter_free(it)
        self.glyphs = ffi.gc(pango.pango_glyph_string_new(), pango.pango_glyph_string_free)  # the last shaped
        self._widths = ffi.new("int[]", max_chars)

    def shape(self, b: bytes, n_chars: int) -> np.ndarray:
        """Shape UTF-8 text into self.glyphs; returns each character's advance in Pango units."""
        gs = self.glyphs
        pango.pango_shape_with_flags(b, len(b), b, len(b), self._analysis, gs, PANGO_SHAPE_ROUND_POSITIONS)
        if n_chars > len(self._widths):
            self._widths = ffi.new("int[]", n_chars)
        pango.pango_glyph_string_get_logical_widths(gs, b, len(b), 0, self._widths)
        return np.frombuffer(ffi.buffer(self._widths, 4 * n_chars), np.int32)

    def clusters(self) -> np.ndarray:
        """Each shaped glyph's first byte in the text (the glyph string's log_clusters)."""
        gs = self.glyphs
        return np.frombuffer(ffi.buffer(gs.log_clusters, 4 * gs.num_glyphs), np.int32)
