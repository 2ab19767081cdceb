"""Fine-tuning configuration: yamls/finetune/<model>/<task>-<modality>.yaml -> FinetuneConfig, with
`a.b=value` overrides (the configs' loader, pixelgpt.config.from_dict, and pretraining's apply_override).

Batch sizes follow the released scripts: `batch_size` is one optimisation step's examples at grad_accum 1
(their per-device batch x GPUs), `grad_accum` multiplies it; the effective batch is batch_size * grad_accum
whatever the number of processes here. Imports no torch or composer, so a bad config fails fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pixelgpt.config import ConfigError, from_dict
from pixelgpt.train import config as train_config
from pixelgpt.train.config import FsdpConfig, LoggingConfig, apply_override

MODALITIES = ("text", "pixel", "pair")


@dataclass
class DataConfig:
    path: str = "data/glue"  # a folder holding the task in any layout the readers detect (local or s3://)
    pixel_source: Literal["auto", "render", "image"] = "auto"  # auto: the stored strip when there is one
    num_workers: int = 0  # DataLoader workers (rendering runs there)
    train_languages: list[str] | None = None  # xnli: None = all 15 (translate-train-all); [en] = transfer
    max_train_examples: int | None = None  # first N of the training split (debugging, demos)
    max_eval_examples: int | None = None  # first N of each evaluation / test split


@dataclass
class OptimizerConfig(train_config.OptimizerConfig):
    """Pretraining's AdamW settings with the released fine-tuning scripts' defaults."""

    lr: float = 5e-5
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0


@dataclass
class SweepConfig:
    """A grid: every (lr, grad_accum, seed); empty lists keep the run's own value."""

    lr: list[float] = field(default_factory=list)
    grad_accum: list[int] = field(default_factory=list)
    seed: list[int] = field(default_factory=list)
    output_dir: str | None = None  # default: <output_dir>/sweep


@dataclass
class FinetuneConfig:
    task: str
    modality: Literal["text", "pixel", "pair"]
    init_from: str | None = None  # an export directory (pixelgpt.train.export); required
    model: str | None = None  # the pretrained variant's name (textgpt|pixelgpt|monogpt|dualgpt), for reports
    run_name: str | None = None  # default: <model>-<task>-<modality>
    output_dir: str = "runs/finetune/{run_name}"
    data: DataConfig = field(default_factory=DataConfig)
    max_tokens: int = 768  # text length limit (text, pair)
    max_patches: int = 768  # strip length in patches (pixel, pair; pair pads every strip to it)
    render_mode: Literal["rgb", "gray", "binary"] = "rgb"
    batch_size: int = 32  # examples per step at grad_accum 1 (released: per-device x GPUs)
    grad_accum: int = 1
    device_microbatch_size: int | None = None  # default: batch_size / processes
    eval_batch_size: int | None = None  # per process; default: the micro-batch size
    max_duration: str = "1000ba"
    warmup: str = "10ba"
    eval_interval: str = "50ba"
    early_stopping: bool = True
    patience: int = 8  # evaluations without improvement of the selection metric
    seed: int = 42
    device: Literal["cpu", "gpu"] = "cpu"
    precision: Literal["fp32", "amp_bf16", "amp_fp16"] = "fp32"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    fsdp: FsdpConfig = field(default_factory=FsdpConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)  # pretraining's (TensorBoard, W&B, ...)
    predict_test: bool = True  # write test-split predictions (TSV) with the selected weights
    save_best: bool = True  # write the selected weights to <output_dir>/best
    source: str | None = None  # where the values come from (the released script), for the record
    sweep: SweepConfig | None = None

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size * self.grad_accum

    @property
    def name(self) -> str:
        return self.run_name or "-".join(x for x in (self.model, self.task, self.modality) if x)

    def resolved(self, template: str) -> str:
        return template.replace("{run_name}", self.name)


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), **data: Any
) -> FinetuneConfig:
    """YAML file (optional) + keyword data + `a.b=value` overrides -> a checked FinetuneConfig."""
    return from_raw(load_raw(path, overrides, **data))


def load_raw(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), **data: Any
) -> dict:
    raw: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{path}: no such config file")
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
    raw.update(data)
    for item in overrides:
        apply_override(raw, item)
    return raw


def from_raw(raw: dict) -> FinetuneConfig:
    cfg = from_dict(FinetuneConfig, raw)
    validate(cfg)
    return cfg


def validate(cfg: FinetuneConfig) -> None:
    """Cross-field checks that types alone cannot express."""
    if cfg.init_from is None or not str(cfg.init_from).strip():
        raise ConfigError(
            "init_from: missing; give the export directory to start from (init_from=path/to/export)"
        )
    positive = ("max_tokens", "max_patches", "batch_size", "grad_accum", "patience")
    for key in positive:
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{key}: must be >= 1, got {getattr(cfg, key)}")
    if cfg.modality in ("pixel", "pair") and cfg.max_patches < 2:
        raise ConfigError("max_patches: must be >= 2 (text patches + the end patch)")
    for key in ("device_microbatch_size", "eval_batch_size"):
        value = getattr(cfg, key)
        if value is not None and value < 1:
            raise ConfigError(f"{key}: must be >= 1, got {value}")
    for key in ("max_duration", "warmup", "eval_interval"):
        if not str(getattr(cfg, key)).endswith("ba") or not str(getattr(cfg, key))[:-2].isdigit():
            raise ConfigError(f"{key}: want a number of steps like '500ba', got {getattr(cfg, key)!r}")
    if int(cfg.eval_interval[:-2]) < 1 or int(cfg.max_duration[:-2]) < 1:
        raise ConfigError("max_duration, eval_interval: must be at least 1ba")
    if cfg.precision != "fp32" and cfg.device == "cpu":
        raise ConfigError(f"precision: {cfg.precision!r} needs device: gpu (on a CPU, set precision=fp32)")
    if cfg.render_mode != "rgb" and cfg.modality == "text":
        raise ConfigError(f"render_mode: {cfg.render_mode!r} applies to pixel inputs, not modality 'text'")
    for key in ("max_train_examples", "max_eval_examples"):
        value = getattr(cfg.data, key)
        if value is not None and value < 1:
            raise ConfigError(f"data.{key}: must be >= 1, got {value}")
    if cfg.data.num_workers < 0:
        raise ConfigError("data.num_workers: must be >= 0")
    if cfg.sweep is not None:
        for lr in cfg.sweep.lr:
            if lr <= 0:
                raise ConfigError(f"sweep.lr: learning rates must be > 0, got {lr}")
        for ga in cfg.sweep.grad_accum:
            if ga < 1:
                raise ConfigError(f"sweep.grad_accum: must be >= 1, got {ga}")


def steps(duration: str) -> int:
    """'500ba' -> 500."""
    return int(duration[:-2])


def to_dict(cfg: FinetuneConfig) -> dict:
    return dataclasses.asdict(cfg)
