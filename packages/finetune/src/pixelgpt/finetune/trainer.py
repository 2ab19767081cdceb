"""`finetune(cfg) -> result`: an export directory + a task folder -> the Composer trainer with periodic
evaluation, model selection and early stopping -> <output_dir>/metrics.json, the selected weights, test-set
predictions.

Protocol (docs/paper-facts.md: Fine-tuning): AdamW (0.9, 0.999, 1e-8, weight decay 0), linear decay after a
linear warmup, gradient clipping at 1.0, seed 42; evaluate every `eval_interval` steps (and at the end), keep
the weights that score best on the task's selection metric on its first evaluation split (MNLI:
validation_matched; ties keep the earlier step, as transformers does), stop after `patience` evaluations
without improvement. At the end the selected weights are restored, every evaluation split is scored again
with them, and the test splits are predicted.

    <output_dir>/config.json        the resolved config
    <output_dir>/metrics.json       the selected checkpoint's metrics per split, the history (final_results())
    <output_dir>/best/              the selected weights (model.safetensors + classifier.json), tokenizer and
                                    renderer config: a self-contained fine-tuned model (load_classifier)
    <output_dir>/predictions/<split>.tsv   test predictions: index, [language,] prediction[, label name]
    <output_dir>/rejected.tsv       every example not used, with its split and reason
"""

from __future__ import annotations

import collections
import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from composer import Trainer
from composer.algorithms import GradientClipping
from composer.core import Callback, DataSpec, Evaluator, State
from composer.core.precision import get_precision_context
from composer.devices import DeviceCPU, DeviceGPU
from composer.loggers import Logger
from composer.optim import LinearWithWarmupScheduler
from composer.utils import dist, reproducibility
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader

from pixelgpt.finetune import metrics as task_metrics_module
from pixelgpt.finetune.composer_model import ComposerClassifier, labelled_rows, predictions
from pixelgpt.finetune.config import ConfigError, FinetuneConfig, steps, to_dict
from pixelgpt.finetune.inputs import Collator, Encoder, FinetuneDataset, split_checks
from pixelgpt.finetune.model import PixelTextClassifier, count_parameters
from pixelgpt.finetune.readers import read_split
from pixelgpt.finetune.tasks import FinetuneError, get_task
from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.train.builders import build_loggers, build_optimizer, show_progress_bar
from pixelgpt.train.export import RENDERER_CONFIG, read_export
from pixelgpt.train.fsdp2 import composer_fsdp

METRICS_FILE = "metrics.json"
BEST_DIR = "best"
BEST_WEIGHTS = "model.safetensors"
BEST_INFO = "classifier.json"


# ------------------------------------------------------------------------------------------------------ data


@dataclass
class SplitData:
    name: str
    role: str  # train | eval | test
    layout: str
    dataset: FinetuneDataset
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (idx, reason, where)
    read: int = 0  # rows in the files (used + rejected)

    @property
    def examples(self) -> list:
        return self.dataset.examples


def check_languages(cfg: FinetuneConfig, task: Any) -> list[str] | None:
    langs = cfg.data.train_languages
    if langs is None:
        return None
    known = tuple(getattr(task, "languages", ()) or ())
    if not known:
        raise ConfigError(f"data.train_languages: task {task.name!r} has no languages")
    for lang in langs:
        if lang not in known:
            raise ConfigError(f"data.train_languages: {lang!r} is not one of {list(known)}")
    return list(langs)


def read_splits(cfg: FinetuneConfig, task: Any, encoder: Encoder) -> dict[str, SplitData]:
    """Every split the run uses, read, checked and wrapped in a dataset. A missing train or evaluation split
    is an error; a missing test split only means no predictions."""
    langs = check_languages(cfg, task)
    plan = [(task.train_split, "train", langs)] + [(s, "eval", langs) for s in task.eval_splits]
    if cfg.predict_test:
        plan += [(s, "test", None) for s in task.test_splits]
    out: dict[str, SplitData] = {}
    for split, role, languages in plan:
        limit = cfg.data.max_train_examples if role == "train" else cfg.data.max_eval_examples
        try:
            # Strips stay PNG bytes until a (worker) process encodes them: decoded, MNLI's would not fit
            sp = read_split(cfg.data.path, task, split, languages=languages, decode_images=False, limit=limit)
        except FinetuneError as e:
            if role != "test":
                raise
            log(f"  {split}: not predicted ({e})")
            continue
        used, bad = split_checks(sp.examples, encoder, labelled=role != "test")
        if limit is not None:
            used = used[:limit]
        rejected = [(r.idx, r.reason, r.where) for r in sp.rejects] + [(i, why, split) for i, why in bad]
        data = SplitData(split, role, sp.layout, FinetuneDataset(used, encoder), rejected)
        data.read = len(sp.examples) + len(sp.rejects)
        out[split] = data
    if not out[task.train_split].examples:
        raise FinetuneError(f"{cfg.data.path}: split {task.train_split!r} has no usable example")
    for s in task.eval_splits:
        if not out[s].examples:
            raise FinetuneError(f"{cfg.data.path}: split {s!r} has no usable labelled example")
    return out


def describe_splits(splits: dict[str, SplitData]) -> list[str]:
    lines = []
    for sp in splits.values():
        lines.append(f"  {sp.role:<5} {sp.name:<26} {len(sp.examples):>8} used {len(sp.rejected):>6} rejected"
                     f"   ({sp.layout})")  # fmt: skip
        reasons = collections.Counter(reason for _, reason, _ in sp.rejected)
        for reason, n in reasons.most_common(5):
            lines.append(f"        {n:>6} x {reason}")
        if len(reasons) > 5:
            lines.append(f"        ... {len(reasons) - 5} more reasons in rejected.tsv")
    return lines


def write_rejected(splits: dict[str, SplitData], out_dir: str) -> None:
    with open(os.path.join(out_dir, "rejected.tsv"), "w", encoding="utf-8") as f:
        f.write("split\tindex\twhere\treason\n")
        for sp in splits.values():
            for idx, reason, where in sp.rejected:
                f.write(f"{sp.name}\t{idx}\t{where}\t{reason}\n")


def build_encoder(cfg: FinetuneConfig, export: Any) -> Encoder:
    return Encoder(
        cfg.modality,
        tokenizer=export.tokenizer,
        renderer_config=export.renderer_config,
        max_tokens=cfg.max_tokens,
        max_patches=cfg.max_patches,
        render_mode=cfg.render_mode,
        pixel_source=cfg.data.pixel_source,
    )


def make_loader(
    cfg: FinetuneConfig, dataset: FinetuneDataset, collate: Collator, batch_size: int, train: bool
) -> DataLoader:
    sampler = dist.get_sampler(dataset, shuffle=train, drop_last=train, seed=cfg.seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.data.num_workers,
        drop_last=train,
        pin_memory=cfg.device == "gpu",
        persistent_workers=cfg.data.num_workers > 0,
    )


# ----------------------------------------------------------------------------------------------------- model


def build_classifier(cfg: FinetuneConfig, task: Any, backbone: PixelTextGPT) -> PixelTextClassifier:
    model = PixelTextClassifier(backbone, task.num_labels, grey_input=cfg.render_mode != "rgb")
    # The other modality's embedding gets no gradient: freezing it keeps DDP from waiting for one and saves
    # its optimizer state. (Its weights still travel with the saved model.)
    if cfg.modality == "pixel":
        backbone.token_embedding.requires_grad_(False)
    elif cfg.modality == "text":
        backbone.patch_embedding.requires_grad_(False)
    return model


# The classifier lives at `model.` in the ComposerModel, which FSDP2 shards in place (its parameters become
# DTensors): weights are gathered from and put back into the root, keys saved without the prefix. (torch's
# distributed.checkpoint set_model_state_dict with broadcast_from_rank0 fails on the parameters of Composer's
# FSDP2 root unit in torch 2.7, "mixed torch.Tensor and DTensor": hence these few lines.)
PREFIX = "model."


def full_state_dict(root: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The classifier's full weights on the CPU, on every rank (sharded ones gathered: a collective)."""
    from torch.distributed.tensor import DTensor

    state = {}
    for key, value in root.state_dict().items():
        if key.startswith(PREFIX):
            full = value.full_tensor() if isinstance(value, DTensor) else value
            state[key.removeprefix(PREFIX)] = full.detach().to("cpu", copy=True)
    return state


@torch.no_grad()
def load_full_state_dict(root: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put full classifier weights back, re-sharding those FSDP holds as DTensors."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    targets = dict(root.named_parameters())
    targets.update(root.named_buffers())
    missing = [k for k in targets if k.startswith(PREFIX) and k.removeprefix(PREFIX) not in state]
    if missing:
        raise KeyError(f"weights missing from the saved state: {missing[:5]}")
    for name, target in targets.items():
        if not name.startswith(PREFIX):
            continue
        full = state[name.removeprefix(PREFIX)].to(target.device, target.dtype)
        if isinstance(target, DTensor):
            full = distribute_tensor(full, target.device_mesh, target.placements)
        target.copy_(full)


def save_best(directory: str, state: dict[str, torch.Tensor], info: dict, export: Any) -> None:
    """The selected weights plus what is needed to use them (rank 0 only)."""
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, BEST_WEIGHTS + ".tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, tmp, metadata={"format": "pt"})
    os.replace(tmp, os.path.join(directory, BEST_WEIGHTS))  # a crash mid-write never leaves half a file
    with open(os.path.join(directory, BEST_INFO), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
    if not os.path.exists(os.path.join(directory, RENDERER_CONFIG)):
        export.tokenizer.save(directory)
        with open(os.path.join(directory, RENDERER_CONFIG), "w", encoding="utf-8") as f:
            json.dump(export.renderer_config.to_dict(), f, indent=2, sort_keys=True)


def load_classifier(directory: str, device: str = "cpu") -> PixelTextClassifier:
    """A fine-tuned classifier from <output_dir>/best."""
    with open(os.path.join(directory, BEST_INFO), encoding="utf-8") as f:
        info = json.load(f)
    with torch.device("meta"):
        backbone = PixelTextGPT(ModelConfig.from_dict(info["backbone_config"]))
        model = PixelTextClassifier(backbone, info["num_labels"], grey_input=info["grey_input"])
    model = model.to_empty(device=device)
    model.load_state_dict(load_file(os.path.join(directory, BEST_WEIGHTS), device=device), strict=True)
    return model.eval()


# ------------------------------------------------------------------------------------------- model selection


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


class ModelSelection(Callback):
    """After each round of evaluation: record the metrics, keep the best weights by (split, metric), and stop
    training after `patience` rounds without improvement (when early stopping is on). `root` is the
    ComposerModel (the FSDP root unit when FSDP is on); the weights kept are the classifier's."""

    def __init__(
        self,
        root: torch.nn.Module,
        split: str,
        metric: str,
        patience: int,
        early_stopping: bool,
        on_improve: Any = None,
    ) -> None:
        self.root = root
        self.split, self.metric = split, metric
        self.patience, self.early_stopping = patience, early_stopping
        self.on_improve = on_improve  # called on rank 0 with (step, value, state)
        self.history: list[dict] = []
        self.best_value = -math.inf
        self.best_step: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_rounds = 0
        self.stopped_early = False

    def eval_after_all(self, state: State, logger: Logger) -> None:
        step = int(state.timestamp.batch)
        if self.history and self.history[-1]["step"] == step:
            return  # the end-of-fit evaluation repeats the one at this step
        record: dict[str, Any] = {"step": step}
        for split, metrics in state.eval_metrics.items():
            record[split] = {name: float(m.compute()) for name, m in metrics.items()}
        self.history.append(record)
        value = _finite(record[self.split][self.metric])
        if dist.get_global_rank() == 0:  # one line per evaluation (Composer's console dump is off)
            scores = "  ".join(
                f"{s} {n} {v:.4f}" for s, ms in record.items() if s != "step" for n, v in ms.items()
            )
            best = max(value, self.best_value) if self.best_step is not None else value
            log(f"[step {step}] {scores} | best {self.split}/{self.metric} {best:.4f}")
        if self.best_step is None or value > self.best_value:
            self.best_value, self.best_step, self.bad_rounds = value, step, 0
            self.best_state = full_state_dict(self.root)
            if self.on_improve is not None and dist.get_global_rank() == 0:
                self.on_improve(step, record[self.split][self.metric], self.best_state)
            logger.log_metrics({"selection/best_step": step})
            return
        self.bad_rounds += 1
        if self.early_stopping and self.bad_rounds >= self.patience:
            log(
                f"early stopping at step {step}: {self.split}/{self.metric} has not improved on "
                f"{self.best_value:.4f} (step {self.best_step}) for {self.bad_rounds} evaluations"
            )
            self.stopped_early = True
            state.stop_training()

    def restore(self) -> None:
        """Put the selected weights back into the model (a collective with FSDP)."""
        if self.best_state is not None:
            load_full_state_dict(self.root, self.best_state)


# ------------------------------------------------------------------------------------------ final evaluation


@torch.no_grad()
def predict(
    composer_model: ComposerClassifier, loader: DataLoader, device: Any, precision: str
) -> tuple[np.ndarray, np.ndarray]:
    """(positions, logits) of every example of the loader's dataset, gathered from all ranks (each once)."""
    was_training = composer_model.training
    composer_model.eval()
    positions, outputs = [], []
    with get_precision_context(precision):
        for batch in loader:
            batch = device.batch_to_device(batch)
            logits = composer_model(batch)
            positions.append(batch["idx"].cpu())
            outputs.append(logits.float().cpu())
    composer_model.train(was_training)
    pos = torch.cat(positions).numpy() if positions else np.zeros(0, np.int64)
    out = (
        torch.cat(outputs).numpy() if outputs else np.zeros((0, composer_model.model.num_labels), np.float32)
    )
    gathered = dist.all_gather_object((pos, out))
    pos = np.concatenate([g[0] for g in gathered])
    out = np.concatenate([g[1] for g in gathered])
    _, first = np.unique(pos, return_index=True)  # the distributed sampler repeats a few rows
    return pos[first], out[first]


def split_labels(examples: list, positions: np.ndarray, regression: bool) -> torch.Tensor:
    values = [examples[i].label for i in positions]
    if regression:
        return torch.tensor([math.nan if v is None else float(v) for v in values], dtype=torch.float32)
    return torch.tensor([-1 if v is None else int(v) for v in values], dtype=torch.int64)


def score(task: Any, examples: list, positions: np.ndarray, logits: np.ndarray, labels) -> dict | None:
    """The task's metrics over the labelled rows (None when no row is labelled). Multilingual tasks (XNLI) add
    per-language accuracies and their unweighted mean (metrics.language_metrics)."""
    keep = labelled_rows(labels)
    if not bool(keep.any()):
        return None
    preds = predictions(torch.from_numpy(logits), task.is_regression)
    if getattr(task, "languages", ()):
        langs = [examples[i].language or "?" for i in positions]
        return task_metrics_module.language_metrics(langs, preds, labels)
    return {k: float(v) for k, v in task_metrics_module.compute(task, preds[keep], labels[keep]).items()}


def write_predictions(path: str, task: Any, examples: list, positions, logits) -> None:
    """TSV: index (the example's idx), language (multilingual tasks), prediction (a label id, or the score of
    a regression), label (the label's name, classification only)."""
    multilingual = bool(getattr(task, "languages", ()))
    names = tuple(getattr(task, "label_names", ()) or ())
    preds = predictions(torch.from_numpy(logits), task.is_regression)
    values = preds.numpy() if task.is_regression else preds.argmax(dim=-1).numpy()
    header = ["index", *(["language"] if multilingual else []), "prediction", *(["label"] if names else [])]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for pos, value in sorted(zip(positions.tolist(), values.tolist())):
            ex = examples[pos]
            row = [str(ex.idx), *([ex.language or ""] if multilingual else [])]
            if task.is_regression:
                row.append(f"{value:.6g}")
            else:
                row += [str(int(value)), *([names[int(value)]] if names else [])]
            f.write("\t".join(row) + "\n")


# ---------------------------------------------------------------------------------------------------- driver


def log(message: str) -> None:
    if dist.get_global_rank() == 0:
        print(message, flush=True)


def batch_sizes(cfg: FinetuneConfig) -> tuple[int, int, int]:
    """(per-process batch per step, micro-batch, evaluation batch) for the current world size."""
    world = dist.get_world_size()
    total = cfg.effective_batch_size
    if total % world:
        raise ConfigError(f"batch_size x grad_accum = {total} is not divisible by the {world} processes")
    device_bs = total // world
    micro = cfg.device_microbatch_size or max(cfg.batch_size // world, 1)
    if device_bs % micro:
        raise ConfigError(
            f"device_microbatch_size: {micro} does not divide the per-process batch {device_bs}"
        )
    return device_bs, micro, cfg.eval_batch_size or micro


def open_export(cfg: FinetuneConfig, device: str = "cpu") -> Any:
    path = str(cfg.init_from)
    if not os.path.isdir(path):
        raise FinetuneError(f"init_from: {path!r} is not a directory (want an export directory)")
    try:
        return read_export(path, device=device)
    except (FileNotFoundError, ValueError) as e:
        raise FinetuneError(f"init_from: {path!r} is not a usable export directory: {e}") from None


def finetune(cfg: FinetuneConfig, callbacks: Sequence[Callback] = ()) -> dict[str, Any]:
    """Fine-tune and select; returns the metrics.json content (also written to <output_dir>/metrics.json).
    `callbacks` are extra Composer callbacks (tests use them to steer a run)."""
    started = time.time()
    task = get_task(cfg.task)
    export = open_export(cfg)  # user errors before any process group or Composer object exists
    if cfg.fsdp.enabled:
        os.environ["FSDP_VERSION"] = "2"  # composer's FSDP1 path is CUDA-only; FSDP2 runs on both
    device = DeviceGPU() if cfg.device == "gpu" else DeviceCPU()
    dist.initialize_dist(device)
    device_bs, micro, eval_bs = batch_sizes(cfg)
    reproducibility.seed_all(cfg.seed)

    out_dir = cfg.resolved(cfg.output_dir)
    encoder = build_encoder(cfg, export)
    splits = read_splits(cfg, task, encoder)
    model = build_classifier(cfg, task, export.model)
    log(start_summary(cfg, task, splits, model, device_bs, micro))
    start_output(cfg, splits, out_dir)
    # Under mixed precision lengths are padded to multiples of 8 (tensor-core friendly), as the released
    # scripts' collator does under fp16; right padding leaves the logits unchanged.
    multiple = 8 if cfg.precision != "fp32" else 1
    collate = Collator(encoder, regression=task.is_regression, pad_to_multiple=multiple)
    train_loader = make_loader(cfg, splits[task.train_split].dataset, collate, device_bs, train=True)
    if len(train_loader) == 0:
        raise FinetuneError(f"split {task.train_split!r}: {len(splits[task.train_split].examples)} examples "
                            f"do not fill one batch of {cfg.effective_batch_size}")  # fmt: skip
    eval_loaders = {s: make_loader(cfg, splits[s].dataset, collate, eval_bs, False) for s in task.eval_splits}

    composer_model = ComposerClassifier(model, task)
    info = classifier_info(cfg, task, export)

    def on_improve(step: int, value: float, state: dict) -> None:
        if cfg.save_best:
            save_best(
                os.path.join(out_dir, BEST_DIR),
                state,
                {**info, "step": step, task.select_metric: value},
                export,
            )

    selection = ModelSelection(composer_model, task.eval_splits[0], task.select_metric, cfg.patience,
                               cfg.early_stopping, on_improve)  # fmt: skip
    trainer = make_trainer(cfg, composer_model, train_loader, eval_loaders, device, micro, eval_bs,
                           [selection, *callbacks])  # fmt: skip
    try:
        trainer.fit()
        selection.restore()
        result = final_results(
            cfg, task, splits, composer_model, selection, device, eval_bs, collate, out_dir
        )
    finally:
        trainer.close()
    result["seconds"] = round(time.time() - started, 1)
    result["steps"] = int(trainer.state.timestamp.batch)
    if dist.get_global_rank() == 0:
        write_json(os.path.join(out_dir, METRICS_FILE), result)
        log(format_result(result))
    dist.barrier()
    return result


def start_output(cfg: FinetuneConfig, splits: dict[str, SplitData], out_dir: str) -> None:
    """The output folder with the config and the rejected examples; an older run's metrics.json goes, so a
    metrics.json there always means this run finished (sweeps rely on it)."""
    if dist.get_global_rank() == 0:
        os.makedirs(out_dir, exist_ok=True)
        stale = os.path.join(out_dir, METRICS_FILE)
        if os.path.exists(stale):
            os.remove(stale)
        with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(to_dict(cfg), f, indent=2, sort_keys=True)
        write_rejected(splits, out_dir)
    dist.barrier()


def classifier_info(cfg: FinetuneConfig, task: Any, export: Any) -> dict[str, Any]:
    """best/classifier.json: what load_classifier needs, and where the weights came from."""
    return {
        "task": task.name,
        "modality": cfg.modality,
        "num_labels": task.num_labels,
        "grey_input": cfg.render_mode != "rgb",
        "render_mode": cfg.render_mode,
        "max_tokens": cfg.max_tokens,
        "max_patches": cfg.max_patches,
        "backbone_config": export.model.config.to_dict(),
        "init_from": str(cfg.init_from),
    }


def make_trainer(
    cfg, composer_model, train_loader, eval_loaders, device, micro, eval_bs, callbacks
) -> Trainer:
    # Composer warns about each split's last, smaller evaluation batch at every evaluation: harmless noise
    warnings.filterwarnings("ignore", message="Cannot split tensor of length")
    evaluators = [
        Evaluator(label=split, dataloader=DataSpec(loader), device_eval_microbatch_size=eval_bs)
        for split, loader in eval_loaders.items()
    ]
    fsdp = composer_fsdp(cfg.fsdp, state_dict_type="full")  # the best weights are kept whole
    algorithms = []
    if cfg.optimizer.grad_clip:
        algorithms.append(GradientClipping(clipping_type="norm", clipping_threshold=cfg.optimizer.grad_clip))
    out_dir = cfg.resolved(cfg.output_dir)
    return Trainer(
        model=composer_model,
        train_dataloader=DataSpec(train_loader),
        eval_dataloader=evaluators,
        eval_interval=cfg.eval_interval,
        max_duration=cfg.max_duration,
        optimizers=build_optimizer(composer_model, cfg.optimizer),
        schedulers=LinearWithWarmupScheduler(t_warmup=cfg.warmup, alpha_f=0.0),
        step_schedulers_every_batch=True,
        algorithms=algorithms,
        callbacks=list(callbacks),
        loggers=build_loggers(cfg.logging, out_dir, cfg.name),
        device=device,
        precision=cfg.precision,
        device_train_microbatch_size=micro,
        parallelism_config={"fsdp": fsdp} if fsdp else None,
        run_name=cfg.name,
        seed=cfg.seed,
        progress_bar=show_progress_bar(cfg.logging),
        log_to_console=False,  # ModelSelection prints one line per evaluation
        console_log_interval=cfg.logging.console_interval,
    )


def final_results(cfg, task, splits, composer_model, selection, device, eval_bs, collate, out_dir) -> dict:
    """Scores of the selected weights on every evaluation split (and labelled test split), the test
    predictions, and the run's record."""
    result: dict[str, Any] = {
        "task": task.name,
        "modality": cfg.modality,
        "model": cfg.model,
        "run_name": cfg.name,
        "select_split": task.eval_splits[0],
        "select_metric": task.select_metric,
        "best_step": selection.best_step,
        "stopped_early": selection.stopped_early,
        "validation": {},
        "test": {},
        "predictions": {},
        "history": selection.history,
        "inputs": {},
        "init_from": str(cfg.init_from),
        "config": to_dict(cfg),
    }
    for name, sp in splits.items():
        if sp.role == "train":
            continue
        loader = make_loader(cfg, sp.dataset, collate, eval_bs, train=False)
        positions, logits = predict(composer_model, loader, device, cfg.precision)
        labels = split_labels(sp.examples, positions, task.is_regression)
        scores = score(task, sp.examples, positions, logits, labels)
        if scores is not None:
            result["validation" if sp.role == "eval" else "test"][name] = scores
        if sp.role == "test" and dist.get_global_rank() == 0:
            path = os.path.join(out_dir, "predictions", f"{name}.tsv")
            write_predictions(path, task, sp.examples, positions, logits)
            result["predictions"][name] = path
    for name, sp in splits.items():
        result["inputs"][name] = {
            "used": len(sp.examples),
            "rejected": len(sp.rejected),
            "truncated": sp.dataset.num_truncated,  # of the examples encoded in this run
            "layout": sp.layout,
        }
    return result


def write_json(path: str, obj: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, allow_nan=True)
    os.replace(tmp, path)  # a metrics.json that exists is complete (sweeps rely on it)


def start_summary(cfg, task, splits, model, device_bs, micro) -> str:
    world = dist.get_world_size()
    length = " + ".join(
        s for s, on in ((f"{cfg.max_patches} patches", cfg.modality != "text"),
                        (f"{cfg.max_tokens} tokens", cfg.modality != "pixel")) if on
    )  # fmt: skip
    lines = [
        f"fine-tune {cfg.name}: task {task.name} ({task.num_labels} labels, selects on "
        f"{task.eval_splits[0]}/{task.select_metric}), modality {cfg.modality} ({length}"
        f"{', ' + cfg.render_mode if cfg.modality != 'text' else ''})",
        f"  from {cfg.init_from} ({count_parameters(model):,} parameters with the head)",
        f"  batch {cfg.batch_size} x grad_accum {cfg.grad_accum} = {cfg.effective_batch_size} per step "
        f"({world} process(es) x {device_bs}, micro-batch {micro}); lr {cfg.optimizer.lr:g}; "
        f"{steps(cfg.max_duration)} steps, warmup {steps(cfg.warmup)}, "
        f"evaluate every {steps(cfg.eval_interval)}"
        f"{f', patience {cfg.patience}' if cfg.early_stopping else ', no early stopping'}; seed {cfg.seed}",
        f"  data {cfg.data.path} (pixel source: {cfg.data.pixel_source})",
        *describe_splits(splits),
    ]
    return "\n".join(lines)


def format_result(result: dict) -> str:
    stopped = " (stopped early)" if result["stopped_early"] else ""
    lines = [f"{result['run_name']}: best step {result['best_step']} of {result['steps']}{stopped}, "
             f"{result['seconds']:.0f} s"]  # fmt: skip
    for kind in ("validation", "test"):
        for split, values in result[kind].items():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in values.items())
            lines.append(f"  {split:<26} {shown}")
    for split, path in result["predictions"].items():
        lines.append(f"  predictions {split}: {path}")
    return "\n".join(lines)
