"""pixelgpt.model: one Llama-style decoder over pixels and text (TextGPT, PixelGPT, MonoGPT, DualGPT)."""

from pixelgpt.model.config import ConfigError, ModelConfig
from pixelgpt.model.generate import generate_patches
from pixelgpt.model.layers import Block
from pixelgpt.model.model import ModelOutput, PixelTextGPT

__all__ = [
    "Block",
    "ConfigError",
    "ModelConfig",
    "ModelOutput",
    "PixelTextGPT",
    "generate_patches",
]
