"""Export directories: everything fine-tuning, generation and conversion need, in one folder.

    <dir>/model.safetensors, config.json   the weights and the ModelConfig (PixelTextGPT.save_pretrained)
    <dir>/tokenizer.json | tokenizer.model, tokenizer_config.json, ...   the tokenizer, as Hub repos ship it
    <dir>/renderer_config.json             the RendererConfig the model's strips were rendered with
    <dir>/training.json                    what it was trained on: variant, modalities (ours only)

    write_export(dir, model, tokenizer, renderer_config)
    export = read_export(dir)    # .model, .tokenizer, .renderer_config (RendererConfig), .path

A directory without renderer_config.json (e.g. a converted release that did not say) reads as the paper's
rendering, RendererConfig(); one without tokenizer files cannot be read (the ids would be meaningless).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pixelgpt.dataset.tokenizers import Tokenizer, load_tokenizer
from pixelgpt.model import PixelTextGPT
from pixelgpt.renderer import RendererConfig

RENDERER_CONFIG = "renderer_config.json"
TRAINING = "training.json"


@dataclass
class Export:
    path: str
    model: PixelTextGPT
    tokenizer: Tokenizer
    renderer_config: RendererConfig
    training: dict  # {"variant": ..., "modalities": [...]}; {} for a converted release


def write_export(
    directory: str,
    model: PixelTextGPT,
    tokenizer: Tokenizer,
    renderer_config: RendererConfig | dict,
    training: dict | None = None,
) -> str:
    """Weights + model config, the tokenizer's files, the renderer config (and what the model was trained on)
    into `directory`."""
    model.save_pretrained(directory)
    tokenizer.save(directory)
    rcfg = (
        renderer_config
        if isinstance(renderer_config, RendererConfig)
        else RendererConfig.from_dict(renderer_config)
    )
    with open(os.path.join(directory, RENDERER_CONFIG), "w", encoding="utf-8") as f:
        json.dump(rcfg.to_dict(), f, indent=2, sort_keys=True)
        f.write("\n")
    if training is not None:
        with open(os.path.join(directory, TRAINING), "w", encoding="utf-8") as f:
            json.dump(training, f, indent=2, sort_keys=True)
            f.write("\n")
    return directory


def read_renderer_config(directory: str) -> RendererConfig:
    path = os.path.join(directory, RENDERER_CONFIG)
    if not os.path.isfile(path):
        return RendererConfig()
    with open(path, encoding="utf-8") as f:
        return RendererConfig.from_dict(json.load(f))


def read_export(directory: str, device: str = "cpu") -> Export:
    """The model, tokenizer and renderer config of an export directory (ours or a converted release)."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"export {directory!r}: no such directory")
    model = PixelTextGPT.from_pretrained(directory, device=device)
    tokenizer = load_tokenizer(directory)
    training = {}
    if os.path.isfile(os.path.join(directory, TRAINING)):
        with open(os.path.join(directory, TRAINING), encoding="utf-8") as f:
            training = json.load(f)
    return Export(directory, model, tokenizer, read_renderer_config(directory), training)
