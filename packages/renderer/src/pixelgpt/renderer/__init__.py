"""pixelgpt.renderer: text -> strips of 16x16 RGB patches (PangoCairo, the paper's geometry, pinned fonts).

from pixelgpt.renderer import Renderer, RendererConfig
enc = Renderer(RendererConfig()).render("some text")   # enc.patches: uint8 (n, 16, 16, 3)
"""

from pixelgpt.renderer.config import RendererConfig
from pixelgpt.renderer.fonts import FontError
from pixelgpt.renderer.renderer import Renderer, is_rtl
from pixelgpt.renderer.rendering import Rendering

__all__ = ["FontError", "Renderer", "RendererConfig", "Rendering", "is_rtl"]
