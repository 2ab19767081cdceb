"""RendererConfig: the paper's rendering settings (PIXEL's PangoCairoTextRenderer, docs/paper-facts.md:
Rendering)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

from pixelgpt.config import ConfigError, from_dict

Newline = Literal["space", "keep"]

# PIXEL's horizontal padding: text is drawn LEFT_PAD_PX after the strip's start (and after a pair's separator
# patch), and the next patch (separator or end) starts at the first patch boundary RIGHT_PAD_PX past the text.
LEFT_PAD_PX = 2
RIGHT_PAD_PX = 2


@dataclass(frozen=True)
class RendererConfig:
    """How text becomes a strip of patches. Defaults are the paper's.

    dpi, font_size: the font is "<family> <dpi/72*font_size>px" (120/72*8 = 13.33 px).
    patch_size: strip height and patch width in px. max_patches: strip length in patches (EOS included).
    rgb: True -> patches (n, P, P, 3); False -> one grey channel (n, P, P, 1), BT.601 luma of the RGB render.
    newline: "space" turns \\n, \\r, U+0085, U+2028, U+2029 into spaces (as PIXEL does); "keep" keeps them
        as \\n, which Pango draws as a return-arrow glyph on the one line (single-paragraph mode).
    font_file: render with this one font file instead of the repo's pinned Noto set.
    word_cache: compose strips from cached word renders where that is provably pixel-identical to the full
        layout (it never changes pixels, only speed).
    """

    dpi: int = 120
    font_size: int | float = 8  # not just float: from_dict would turn 8 into 8.0 in exported renderer configs
    patch_size: int = 16
    max_patches: int = 1024
    rgb: bool = True
    newline: Newline = "space"
    font_file: str | None = None
    word_cache: bool = True

    def __post_init__(self):
        def fail(key, why):
            raise ConfigError(f"RendererConfig.{key}: {why} (got {getattr(self, key)!r})")

        if not isinstance(self.dpi, int) or isinstance(self.dpi, bool) or not 1 <= self.dpi <= 2400:
            fail("dpi", "must be an int in [1, 2400]")
        if not isinstance(self.font_size, int | float) or isinstance(self.font_size, bool):
            fail("font_size", "must be a number")
        if not 0 < self.font_size <= 200:
            fail("font_size", "must be in (0, 200]")
        if (
            not isinstance(self.patch_size, int)
            or isinstance(self.patch_size, bool)
            or not self.patch_size >= 4
        ):
            fail("patch_size", "must be an int >= 4")
        if (
            not isinstance(self.max_patches, int)
            or isinstance(self.max_patches, bool)
            or self.max_patches < 2
        ):
            fail("max_patches", "must be an int >= 2 (text patches + the end patch)")
        if self.max_patches * self.patch_size > 32767:
            fail("max_patches", "max_patches * patch_size must be <= 32767 px (a cairo surface limit)")
        if not isinstance(self.rgb, bool):
            fail("rgb", "must be a bool")
        if self.newline not in get_args(Newline):
            fail("newline", f"must be one of {get_args(Newline)}")
        if self.font_file is not None and not isinstance(self.font_file, str):
            fail("font_file", "must be a path string or None")
        if not isinstance(self.word_cache, bool):
            fail("word_cache", "must be a bool")

    @property
    def font_px(self) -> float:
        """Absolute font size in px, as PIXEL computes it."""
        return self.dpi / 72 * self.font_size

    @property
    def width_px(self) -> int:
        return self.max_patches * self.patch_size

    @property
    def text_width_px(self) -> int:
        """The widest text (px) a strip holds without its end patch being capped onto the text: the end patch
        starts at the first patch boundary at or past LEFT_PAD_PX + width + RIGHT_PAD_PX, which must not lie
        past the last patch."""
        return (self.max_patches - 1) * self.patch_size - LEFT_PAD_PX - RIGHT_PAD_PX

    def to_dict(self) -> dict:
        """JSON-able; goes into a shard set's meta.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RendererConfig:
        return from_dict(cls, d)
