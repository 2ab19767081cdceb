"""Builders: config sections -> the optimizer, LR schedule, loggers and monitoring callbacks for Composer."""

from __future__ import annotations

import os
import sys

import torch
from composer.callbacks import LRMonitor, MemoryMonitor, SpeedMonitor
from composer.core import Callback
from composer.loggers import FileLogger, LoggerDestination, TensorboardLogger
from composer.optim import (
    ComposerScheduler,
    ConstantWithWarmupScheduler,
    CosineAnnealingWithWarmupScheduler,
    LinearWithWarmupScheduler,
)

from pixelgpt.train.config import LoggingConfig, OptimizerConfig, SchedulerConfig


def build_optimizer(model: torch.nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not on norms, biases, or anything 1-D), as in nanoGPT."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)


def build_scheduler(cfg: SchedulerConfig) -> ComposerScheduler:
    if cfg.name == "cosine":
        return CosineAnnealingWithWarmupScheduler(t_warmup=cfg.warmup, alpha_f=cfg.alpha_f)
    if cfg.name == "linear":
        return LinearWithWarmupScheduler(t_warmup=cfg.warmup, alpha_f=cfg.alpha_f)
    return ConstantWithWarmupScheduler(t_warmup=cfg.warmup)


def build_loggers(cfg: LoggingConfig, output_dir: str, run_name: str) -> list[LoggerDestination]:
    """TensorBoard, Composer's file log, W&B and MLflow: Composer's own logger destinations."""
    loggers: list[LoggerDestination] = []
    if cfg.tensorboard:
        loggers.append(TensorboardLogger(log_dir=os.path.join(output_dir, "tensorboard"), flush_interval=10))
    if cfg.file:
        loggers.append(
            FileLogger(filename=os.path.join(output_dir, "logs", "rank{rank}.txt"), flush_interval=10)
        )
    if cfg.wandb.enabled:
        from composer.loggers import WandBLogger

        loggers.append(
            WandBLogger(
                project=cfg.wandb.project,
                entity=cfg.wandb.entity,
                name=run_name,
                init_kwargs={"mode": cfg.wandb.mode, "dir": output_dir},
                log_artifacts=False,
            )
        )
    if cfg.mlflow.enabled:
        from composer.loggers import MLFlowLogger

        uri = cfg.mlflow.tracking_uri.replace("{output_dir}", output_dir)
        if "://" not in uri:  # a local file store: MLflow wants a file:// URI of an absolute path
            uri = "file://" + os.path.abspath(uri)
        loggers.append(
            MLFlowLogger(experiment_name=cfg.mlflow.experiment, run_name=run_name, tracking_uri=uri)
        )
    return loggers


def show_progress_bar(cfg: LoggingConfig) -> bool:
    return cfg.progress_bar == "on" or (cfg.progress_bar == "auto" and sys.stderr.isatty())


def build_callbacks(cfg: LoggingConfig, device: str) -> list[Callback]:
    """Speed (throughput; MFU from the model's FLOPs where the peak is known), LR and, on GPUs, memory."""
    callbacks: list[Callback] = [
        SpeedMonitor(window_size=cfg.speed_window, gpu_flops_available=cfg.peak_flops_per_device),
        LRMonitor(),
    ]
    if cfg.memory_monitor and device == "gpu":
        callbacks.append(MemoryMonitor())
    return callbacks
