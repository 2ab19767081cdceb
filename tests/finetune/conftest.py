"""Shared fixtures of the fine-tuning tests: a tiny export directory (PixelTextGPT + byte tokenizer + renderer
config, written by pixelgpt.train.export) and the tiny task's files, both once per session."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_YAMLS = os.path.join(REPO, "yamls", "finetune", "tiny")


def tiny_backbone(seed: int = 0, **overrides):
    from pixelgpt.model import ModelConfig, PixelTextGPT

    torch.manual_seed(seed)
    return PixelTextGPT(ModelConfig.tiny(**overrides))


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> str:
    """An export directory as pretraining writes it: tiny weights, the byte tokenizer, the paper's
    renderer."""
    from pixelgpt.dataset.tokenizers import ByteTokenizer
    from pixelgpt.renderer import RendererConfig
    from pixelgpt.train.export import write_export

    path = str(tmp_path_factory.mktemp("export") / "tiny")
    return write_export(path, tiny_backbone(), ByteTokenizer(), RendererConfig())


@pytest.fixture(scope="session")
def tiny_task(tmp_path_factory) -> str:
    """The tiny task's folder (GLUE layout), small enough for seconds of training."""
    from pixelgpt.finetune.tiny_task import write_tiny_task

    path = str(tmp_path_factory.mktemp("data") / "tiny")
    write_tiny_task(path, n_train=48, n_validation=16, n_test=8, seed=0)
    return path


@pytest.fixture
def tiny_overrides(tiny_export, tiny_task, tmp_path):
    """key=value overrides that point a yamls/finetune/tiny config at the session export and task."""

    def make(*extra: str, out: str | None = None) -> list[str]:
        return [
            f"init_from={tiny_export}",
            f"data.path={tiny_task}",
            f"output_dir={out or tmp_path / 'run'}",
            "logging.console_interval=1000ba",
            "logging.file=false",
            *extra,
        ]

    return make


def load_run_py():
    """packages/finetune/run.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location(
        "finetune_run", os.path.join(REPO, "packages", "finetune", "run.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
