"""Renderer: text -> one strip of patches, with the geometry of PIXEL's PangoCairoTextRenderer.

Geometry (docs/paper-facts.md: Rendering), P = patch_size, all in px, L = LEFT_PAD_PX = 2, R = RIGHT_PAD_PX =
2 (config.py): text drawn from x = L at y = P/2 - h/2 - 2 (h = the layout's logical height); the black end
patch sits at the next patch boundary after L + width + R, capped at the last patch; num_text_patches =
eos // P. A pair draws a, a black separator patch at the next boundary after L + width_a + R, then b from
start_b = sep + P + L, and the end patch at the next boundary after start_b + width_b + R.
Deviation: the empty string renders as just the end patch (num_text_patches = 0).

One cairo surface, one Pango context and one layout per Renderer, reused for every call. Word-level caching
(word_cache.py) composes strips without re-shaping where that is pixel-identical to the full layout. The loops
over pixels, runs and characters are C (kernels.c, compiled when the package is built).
"""

from __future__ import annotations

import math

import numpy as np

from pixelgpt.renderer import kernels
from pixelgpt.renderer._capi import (
    PANGO_DIRECTION_RTL,
    pango,
)
from pixelgpt.renderer.config import LEFT_PAD_PX, RIGHT_PAD_PX, RendererConfig
from pixelgpt.renderer.fonts import load_repo_fonts, load_single_font
from pixelgpt.renderer.layout import Layout
from pixelgpt.renderer.rendering import Rendering
from pixelgpt.renderer.text import drawable_text, max_chars
from pixelgpt.renderer.word_cache import WordCache


def is_rtl(text: str) -> bool:
    """PIXEL's rule: of the first, middle and last characters that are not ASCII space/punctuation/digits,
    at least two have a right-to-left bidi direction."""
    probes = kernels.rtl_probes(text.encode("utf-8", "surrogatepass"))
    return sum(pango.pango_unichar_direction(c) == PANGO_DIRECTION_RTL for c in probes) >= 2


def _as_rgb(grey: np.ndarray) -> np.ndarray:
    """(n, P, P, 1) -> a read-only (n, P, P, 3) view with R = G = B (as np.broadcast_to, at a tenth of the
    cost)."""
    out = np.ndarray(grey.shape[:3] + (3,), grey.dtype, grey, 0, grey.strides[:3] + (0,))
    out.flags.writeable = False
    return out


class Renderer:
    """Renders text (or a pair of texts) into one strip of patches; see the module docstring for geometry.

    Not thread-safe (one surface and layout per instance). Pickles as its config, so it can be handed to a
    Ray actor or worker process; the copy rebuilds its fonts, surface and an empty word cache there.
    """

    def __init__(self, config: RendererConfig | None = None):
        self.config = cfg = config if config is not None else RendererConfig()
        if not isinstance(cfg, RendererConfig):
            raise TypeError(f"config must be a RendererConfig, not {type(cfg).__name__}")
        fcconfig, self._fonts = load_single_font(cfg.font_file) if cfg.font_file else load_repo_fonts()
        self._P = cfg.patch_size
        self._limit = max_chars(cfg.width_px)
        self._layout = Layout(cfg, fcconfig, self._fonts, cfg.width_px, cfg.patch_size)
        self._words = WordCache(cfg, fcconfig, self._fonts) if cfg.word_cache else None

    def __reduce__(self):
        return (Renderer, (self.config,))

    # ------------------------------------------------------------------------------------------ public API
    def render(self, text: str) -> Rendering:
        """One text -> one strip. Text that does not fit is clipped (the end patch takes the last patch)."""
        t = drawable_text(text, self.config.newline, self._limit)
        if not t:
            end = np.zeros((1, self._P, self._P), np.uint8)
            return self._finish_grey(end, 0, np.zeros((len(text), 2), np.int32), 0, 0)
        c = self._words.compose(t) if self._words is not None else None
        if c is not None:
            n_text = self._next_boundary(LEFT_PAD_PX + c.width + RIGHT_PAD_PX) // self._P
            patches = self._words.patches([(LEFT_PAD_PX, c)], n_text, [])
            return self._finish_grey(
                patches, n_text, self._words.char_patches(c, LEFT_PAD_PX, len(text), n_text), 0, c.width
            )
        self._layout.clear()
        width, tofu, ext = self._draw(t, LEFT_PAD_PX)
        n_text = self._next_boundary(LEFT_PAD_PX + width + RIGHT_PAD_PX) // self._P
        cp = self._char_patches(ext, LEFT_PAD_PX, len(text), width, n_text)
        return self._finish(n_text, [], cp, tofu, width)

    def render_pair(self, a: str, b: str) -> Rendering:
        """a, a black separator patch, b, the black end patch. char_patches has len(a) + len(b) rows."""
        P = self._P
        ta = drawable_text(a, self.config.newline, self._limit)
        tb = drawable_text(b, self.config.newline, self._limit)
        ca, cb = self._compose_pair(ta, tb)
        if ca is not None and cb is not None:
            sep = self._next_boundary(LEFT_PAD_PX + ca.width + RIGHT_PAD_PX)
            if sep < self.config.width_px - P:  # (when capped, b is drawn over a: leave that to cairo)
                start_b = sep + P + LEFT_PAD_PX
                n_text = self._next_boundary(start_b + cb.width + RIGHT_PAD_PX) // P
                patches = self._words.patches([(LEFT_PAD_PX, ca), (start_b, cb)], n_text, [sep // P])
                cp = np.concatenate(
                    [
                        self._words.char_patches(ca, LEFT_PAD_PX, len(a), n_text),
                        self._words.char_patches(cb, start_b, len(b), n_text),
                    ]
                )
                return self._finish_grey(patches, n_text, cp, 0, ca.width + cb.width)
        self._layout.clear()
        wa, tofu_a, ext_a = self._draw(ta, LEFT_PAD_PX)
        sep = self._next_boundary(LEFT_PAD_PX + wa + RIGHT_PAD_PX)
        start_b = sep + P + LEFT_PAD_PX
        wb, tofu_b, ext_b = self._draw(tb, start_b)
        n_text = self._next_boundary(start_b + wb + RIGHT_PAD_PX) // P
        cp = self._pair_char_patches(ext_a, ext_b, len(a), len(b), wa, wb, start_b, n_text)
        return self._finish(n_text, [sep // P], cp, tofu_a + tofu_b, wa + wb)

    def measure(self, text: str) -> int:
        """Rendered (logical) width of `text` in whole px, without drawing a strip."""
        t = drawable_text(text, self.config.newline, self._limit)
        if not t:
            return 0
        if self._words is not None:
            hit = self._words.measure(t)
            if hit is not None:
                return hit
        self._layout.set_text(t, is_rtl(t))
        return self._layout.size()[0]

    def char_extents(self, text: str) -> np.ndarray:
        """float32 (len(text), 2): each character's logical x-range in px, LTR strip coordinates with the text
        starting at 0 (add 2 for its place in a rendered strip). One layout pass, no drawing. Characters past
        the laid-out limit get [width, width)."""
        t = drawable_text(text, self.config.newline, self._limit)
        if not t:
            return np.zeros((len(text), 2), np.float32)
        ext = None
        if self._words is not None:
            ext = self._words.char_extents(t)
        if ext is None:
            self._layout.set_text(t, is_rtl(t))
            width = self._layout.size()[0]
            ext = self._layout.char_extents(len(t), width)
        if len(t) < len(text):
            tail = np.full((len(text) - len(t), 2), ext[:, 1].max() if len(ext) else 0, np.float32)
            ext = np.concatenate([ext, tail])
        return ext

    def font_hashes(self) -> dict[str, str]:
        """{font file path: sha256} of every font this renderer can draw with (for meta.json)."""
        return dict(self._fonts.hashes)

    # ------------------------------------------------------------------------------------------- internals
    def _next_boundary(self, x: float) -> int:
        """PIXEL's offset to the next patch: round up to a patch boundary, at most the last patch's start."""
        P = self._P
        return min(math.ceil(x / P) * P, self.config.width_px - P)

    def _compose_pair(self, a: str, b: str):
        """Word-cache compositions of both texts (or (None, None)); a again if composing b compacted the
        cache."""
        words = self._words
        if words is None:
            return None, None
        ca, cb = words.compose(a), words.compose(b)
        if ca is not None and cb is not None and not words.valid(ca):
            ca = words.compose(a)
            if not (words.valid(ca) and words.valid(cb)):  # the two texts alone overflow the cache
                return None, None
        return ca, cb

    def _pair_char_patches(self, ext_a, ext_b, n_a, n_b, wa, wb, start_b, n_text) -> np.ndarray:
        return np.concatenate(
            [
                self._char_patches(ext_a, LEFT_PAD_PX, n_a, wa, n_text),
                self._char_patches(ext_b, start_b, n_b, wb, n_text),
            ]
        )

    def _draw(self, t: str, x: int) -> tuple[int, int, np.ndarray]:
        """Draw normalised text from x; returns (width, tofu, char extents in layout px)."""
        if not t:
            return 0, 0, np.zeros((0, 2), np.float32)
        lay = self._layout
        lay.set_text(t, is_rtl(t))
        width, height, right = lay.size()
        lay.draw(x, self._P / 2 - height / 2 - 2, right)
        tofu = lay.tofu()
        if self.config.newline == "keep":
            tofu -= t.count("\n")  # Pango draws kept newlines as a return arrow it counts as unknown
        ext = lay.char_extents(len(t), width)
        lay.coloured |= lay.uses_colour
        return width, tofu, ext

    def _char_patches(self, ext: np.ndarray, x: int, n: int, width: int, n_text: int) -> np.ndarray:
        """Half-open patch range of each character (n rows; rows past len(ext) were cut: empty at the end):
        floor of its left edge, ceiling of its right edge (the floor for a character without width)."""
        out = np.empty((n, 2), np.int32)
        kernels.ext_char_patches(ext, out, x, self._P, n_text)
        out[len(ext) :] = min(math.ceil((x + width) / self._P), n_text)
        return out

    def _finish_grey(
        self, patches: np.ndarray, n_text: int, char_patches, tofu: int, width: int
    ) -> Rendering:
        """A Rendering from grey (n, P, P) patches (end patch and separators already black)."""
        out = patches[..., None]
        if self.config.rgb:  # no colour was composed: R = G = B, so a read-only view, not three copies
            out = _as_rgb(out)
        return Rendering(out, n_text, char_patches, int(tofu), int(width))

    def _finish(self, n_text: int, black: list[int], char_patches, tofu: int, width: int) -> Rendering:
        P = self._P
        lay = self._layout
        lay.flush()
        if not lay.coloured:  # no font with colour glyphs drew: R = G = B, one channel is the whole strip
            grey = kernels.surface_patches(lay.pixels, n_text + 1, 1)[..., None]  # (n, P, P, 1)
            grey[n_text] = 0
            for i in black:
                if i < n_text:
                    grey[i] = 0
            # (BT.601 luma of R = G = B = g is g: (299 + 587 + 114) * g / 1000)
            out = _as_rgb(grey) if self.config.rgb else grey
            return Rendering(out, n_text, char_patches, int(tofu), int(width))
        v = lay.pixels[:, : (n_text + 1) * P].reshape(P, n_text + 1, P, 4).transpose(1, 0, 2, 3)
        out = np.stack((v[..., 2], v[..., 1], v[..., 0]), axis=-1)  # cairo RGB24 is BGRx in memory
        out[n_text] = 0
        for i in black:
            if i < n_text:
                out[i] = 0
        if not self.config.rgb:
            o = out.astype(np.uint32)
            out = ((o[..., 0] * 299 + o[..., 1] * 587 + o[..., 2] * 114 + 500) // 1000).astype(np.uint8)[
                ..., None
            ]
        return Rendering(out, n_text, char_patches, int(tofu), int(width))
