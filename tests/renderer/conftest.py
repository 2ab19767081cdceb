import pytest

from pixelgpt.renderer import Renderer, RendererConfig


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer(RendererConfig())


@pytest.fixture(scope="session")
def reference() -> Renderer:
    """The plain full-layout renderer (no word cache): the ground truth the cache must reproduce."""
    return Renderer(RendererConfig(word_cache=False))
