"""Rendering: what Renderer.render returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelgpt.renderer.pictures import patches_to_strip


@dataclass(frozen=True, eq=False)
class Rendering:
    """One rendered strip.

    patches: uint8 (n, P, P, C), n = num_text_patches + 1, patch-major, each patch row-major with the channels
        interleaved (C = 3 RGB, or 1 grey when rgb=False); patches[-1] is the black end patch. Treat it as
        read-only: a strip without colour (no emoji drawn) may come as a read-only np.broadcast_to view of its
        one grey channel (strides[-1] == 0), which saves two thirds of the copying; np.array() it to write.
    num_text_patches: patches before the end patch (PIXEL's definition: floor(eos_offset / P)).
    char_patches: int32 (len(text), 2), half-open range of patches each input character's advance covers; a
        character with no width gets [p, p) at its position; all values lie in [0, num_text_patches].
    tofu: glyphs drawn as "unknown" (the character is in no font).
    width: the rendered text width in px (for a pair: width of a + width of b).
    """

    patches: np.ndarray
    num_text_patches: int
    char_patches: np.ndarray
    tofu: int
    width: int

    @property
    def strip(self) -> np.ndarray:
        """The strip as one image, (P, n * P, C)."""
        return patches_to_strip(self.patches)
