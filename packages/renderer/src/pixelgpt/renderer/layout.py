"""Layout: one Pango layout on one cairo surface (set text, measure, draw, read glyph positions), shared by
the Renderer (whole strips) and the word cache (words and glyph masks).
"""

from __future__ import annotations

import math

import numpy as np

from pixelgpt.renderer import kernels
from pixelgpt.renderer._capi import (
    CAIRO_ANTIALIAS_GRAY,
    CAIRO_FORMAT_RGB24,
    CAIRO_HINT_METRICS_ON,
    CAIRO_HINT_STYLE_SLIGHT,
    CAIRO_SUBPIXEL_ORDER_DEFAULT,
    PANGO_ALIGN_LEFT,
    PANGO_ALIGN_RIGHT,
    PANGO_DIRECTION_LTR,
    PANGO_DIRECTION_RTL,
    cairo,
    ffi,
    font_has_colour,
    gobject,
    pango,
    pangocairo,
    pangoft2,
)
from pixelgpt.renderer.config import RendererConfig
from pixelgpt.renderer.fonts import FontSet
from pixelgpt.renderer.text import max_chars


class Layout:
    """One Pango layout on one cairo surface: set text, measure, draw, read glyph positions."""

    def __init__(self, config: RendererConfig, fcconfig, fonts: FontSet, width: int, height: int):
        self._fontmap = ffi.gc(pangocairo.pango_cairo_font_map_new(), gobject.g_object_unref)
        pangoft2.pango_fc_font_map_set_config(self._fontmap, fcconfig)
        self.surface = ffi.gc(
            cairo.cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height), cairo.cairo_surface_destroy
        )
        if cairo.cairo_surface_status(self.surface) != 0:
            raise MemoryError(f"cairo could not create a {width}x{height} surface")
        self.cr = ffi.gc(cairo.cairo_create(self.surface), cairo.cairo_destroy)
        self.context = ffi.gc(pango.pango_font_map_create_context(self._fontmap), gobject.g_object_unref)
        opts = ffi.gc(cairo.cairo_font_options_create(), cairo.cairo_font_options_destroy)
        cairo.cairo_font_options_set_antialias(opts, CAIRO_ANTIALIAS_GRAY)
        cairo.cairo_font_options_set_subpixel_order(opts, CAIRO_SUBPIXEL_ORDER_DEFAULT)
        cairo.cairo_font_options_set_hint_style(opts, CAIRO_HINT_STYLE_SLIGHT)
        cairo.cairo_font_options_set_hint_metrics(opts, CAIRO_HINT_METRICS_ON)  # integral advances
        pangocairo.pango_cairo_context_set_font_options(self.context, opts)
        pango.pango_context_set_language(self.context, pango.pango_language_from_string(b"en"))
        pango.pango_context_set_round_glyph_positions(self.context, 1)
        pangocairo.pango_cairo_update_context(self.cr, self.context)
        self.layout = ffi.gc(pango.pango_layout_new(self.context), gobject.g_object_unref)
        desc = pango.pango_font_description_from_string(f"{fonts.family} {config.font_px}px".encode())
        pango.pango_layout_set_font_description(self.layout, desc)
        pango.pango_font_description_free(desc)
        pango.pango_layout_set_auto_dir(self.layout, 0)
        # A strong LTR base direction from the start: the context's default, weak LTR, would let a line that
        # starts with Hebrew lay out right to left until the first RTL text switched the layout over
        pango.pango_context_set_base_dir(self.context, PANGO_DIRECTION_LTR)
        pango.pango_layout_context_changed(self.layout)
        pango.pango_layout_set_single_paragraph_mode(self.layout, 1)
        self.rtl = False
        self.width, self.height = width, height
        stride = cairo.cairo_image_surface_get_stride(self.surface)
        data = cairo.cairo_image_surface_get_data(self.surface)
        self.pixels = np.frombuffer(ffi.buffer(data, stride * height), np.uint8).reshape(
            height, stride // 4, 4
        )
        self._ink = ffi.new("PangoRectangle *")
        self._logical = ffi.new("PangoRectangle *")
        self._scratch = np.empty(
            2 * 4 * max_chars(config.width_px), np.int32
        )  # 2 a byte, 4 bytes a character
        self.text = b""
        self.dirty = width  # columns that may not be white
        self.coloured = False  # may anything but grey have been drawn since clear()? (set by the Renderer)
        self.uses_colour = False  # does the text of the last char_extents() use a font with colour glyphs?
        self._has_colour: dict = {}  # PangoFont address -> (bool, a reference that keeps the font alive)
        self.clear()

    def set_text(self, text: str, rtl: bool) -> None:
        if rtl != self.rtl:
            self.rtl = rtl
            pango.pango_context_set_base_dir(
                self.context, PANGO_DIRECTION_RTL if rtl else PANGO_DIRECTION_LTR
            )
            pango.pango_layout_set_alignment(self.layout, PANGO_ALIGN_RIGHT if rtl else PANGO_ALIGN_LEFT)
            pango.pango_layout_context_changed(self.layout)
        self.text = text.encode()
        pango.pango_layout_set_text(self.layout, self.text, len(self.text))

    def size(self) -> tuple[int, int, int]:
        """(logical width, logical height, rightmost ink column) in px."""
        pango.pango_layout_get_pixel_extents(self.layout, self._ink, self._logical)
        ink = self._ink
        return self._logical.width, self._logical.height, max(ink.x + ink.width, self._logical.width)

    def tofu(self) -> int:
        return pango.pango_layout_get_unknown_glyphs_count(self.layout)

    def clear(self) -> None:
        if self.dirty > 0:
            cairo.cairo_set_source_rgb(self.cr, 1, 1, 1)
            cairo.cairo_rectangle(self.cr, 0, 0, self.dirty, self.height)
            cairo.cairo_fill(self.cr)
            self.dirty = 0
        self.coloured = False

    def draw(self, x: float, y: float, right: int) -> None:
        """Show the layout with its top-left at (x, y); `right` = its rightmost ink column (for clearing)."""
        cairo.cairo_set_source_rgb(self.cr, 0, 0, 0)
        cairo.cairo_move_to(self.cr, x, y)
        pangocairo.pango_cairo_show_layout(self.cr, self.layout)
        self.dirty = min(self.width, max(self.dirty, math.ceil(x) + right + 2))

    def flush(self) -> None:
        cairo.cairo_surface_flush(self.surface)

    def char_extents(self, n_chars: int, width: int) -> np.ndarray:
        """float32 (n_chars, 2): each character's logical x-range in px, layout coordinates (one walk over the
        line's runs, in C). Also notes whether a font with colour glyphs drew any of it."""
        runs = pango.pango_layout_get_line_readonly(self.layout, 0).runs
        ext, fonts = kernels.line_extents(runs, self.text, n_chars, width, self._scratch)
        # (more fonts than listed: take the RGB path, which reads every channel and is always exact)
        self.uses_colour = fonts is None or any(map(self._font_has_colour, fonts))
        return ext

    def _font_has_colour(self, address: int) -> bool:
        known = self._has_colour.get(address)
        if known is None:
            font = ffi.cast("void *", address)
            known = self._has_colour[address] = (
                font_has_colour(font),
                ffi.gc(gobject.g_object_ref(font), gobject.g_object_unref),  # keeps the address its own
            )
        return known[0]
