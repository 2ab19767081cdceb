"""`train(cfg) -> summary`: shards -> Composer Trainer -> checkpoints, export, loss curves, rollouts."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

import torch
from composer import Trainer
from composer.callbacks import CheckpointSaver
from composer.core import Callback, DataSpec, Evaluator
from composer.devices import DeviceCPU, DeviceGPU
from composer.utils import dist, reproducibility
from torch.distributed.fsdp import FSDPModule
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from pixelgpt.dataset.collate import Collator
from pixelgpt.dataset.streaming import PixelTextDataset, ShardSet, clean_stale_shared_memory, read_tokenizer
from pixelgpt.dataset.tokenizers import Tokenizer, TokenizerError, load_tokenizer
from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.train import report
from pixelgpt.train.builders import (
    build_callbacks,
    build_loggers,
    build_optimizer,
    build_scheduler,
    show_progress_bar,
)
from pixelgpt.train.callbacks import (
    ConsoleLine,
    EvalLog,
    InitOptimizerState,
    LossLog,
    ModalityMixer,
    RunStateGuard,
    read_loss_log,
    samples_in_batch,
)
from pixelgpt.train.checkpoints import CheckpointError, repair_latest
from pixelgpt.train.composer_model import ComposerPixelTextGPT
from pixelgpt.train.config import ConfigError, TrainConfig, to_dict
from pixelgpt.train.export import write_export
from pixelgpt.train.fsdp2 import composer_fsdp
from pixelgpt.train.mixture import VARIANT_MIXTURES, Mixture

EXPORT_DIR = "export"
LOSS_LOG = "losses.jsonl"
EVAL_LOG = "evals.jsonl"
LOSS_PNG = "losses.png"
SUMMARY = "summary.json"


def mixture_weights(cfg: TrainConfig) -> dict[str, int]:
    if cfg.mixture is None:
        return dict(VARIANT_MIXTURES[cfg.variant])
    return dataclasses.asdict(cfg.mixture)


def model_config(cfg: TrainConfig, tokenizer: dict) -> ModelConfig:
    """`model:` section -> ModelConfig: preset (tiny|paper) + field overrides; vocab_size from the shards'
    tokenizer unless given."""
    fields = dict(cfg.model)
    preset = fields.pop("preset", "tiny")
    if "vocab_size" not in fields:
        if "vocab_size" not in tokenizer:
            raise ConfigError(
                "model.vocab_size: not given and the shard sets' meta.json names no tokenizer size"
            )
        fields["vocab_size"] = int(tokenizer["vocab_size"])
    elif "vocab_size" in tokenizer and int(fields["vocab_size"]) != int(tokenizer["vocab_size"]):
        raise ConfigError(
            f"model.vocab_size: {fields['vocab_size']}, but the shard sets were tokenized with "
            f"{tokenizer.get('name', '?')} ({tokenizer['vocab_size']} ids); re-render the shards with the "
            "model's tokenizer, or drop model.vocab_size to take the shards'"
        )
    base = ModelConfig.paper() if preset == "paper" else ModelConfig.tiny()
    return ModelConfig.from_dict({**base.to_dict(), **fields}, where="model")


def check_shards(cfg: TrainConfig, dataset: PixelTextDataset) -> Tokenizer:
    """The shard sets fit this run's rows and tokenizer; returns their tokenizer (for the export)."""
    d = cfg.data
    for what, theirs, ours in (("tokens", dataset.max_tokens, d.max_tokens),
                               ("patches", dataset.max_patches, d.max_patches)):  # fmt: skip
        if theirs > ours:
            raise ConfigError(
                f"data.max_{what}: the shard sets hold samples of up to {theirs} {what} (their meta.json), "
                f"this run's rows only {ours}; set data.max_{what}={theirs}, or re-render with a budget "
                f"of {ours}"
            )
    if d.tokenizer:
        try:
            expected = load_tokenizer(cfg.resolved(d.tokenizer))
        except (FileNotFoundError, TokenizerError) as e:
            raise ConfigError(f"data.tokenizer: {e}") from None
        theirs = dataset.tokenizer
        if expected.fingerprint() != theirs.get("fingerprint"):
            raise ConfigError(
                f"data.tokenizer: the shard sets were tokenized with {theirs.get('name')} "
                f"({theirs.get('kind', '?')}, {theirs.get('vocab_size')} ids), not with {d.tokenizer} "
                f"({expected.kind}, {expected.vocab_size} ids); re-render them with --tokenizer "
                f"{d.tokenizer}, "
                "or set data.tokenizer=null to train on the shards' own tokenizer"
            )
        return expected
    return read_tokenizer(cfg.data.shards[0].path, cfg.resolved(d.cache))


def freeze_unused(model: PixelTextGPT, weights: dict[str, int]) -> list[str]:
    """Freeze the embedding and head of a modality the mixture never trains (PixelGPT's token embedding,
    TextGPT's patch embedding): they get no optimizer state and DDP no unused parameters. Returns the
    frozen modalities."""
    used = {
        "text": bool(weights["text"] or weights["pair"]),
        "pixels": bool(weights["image"] or weights["pair"]),
    }
    frozen = []
    for modality, modules in model.modality_modules().items():
        if not used[modality]:
            for m in modules:
                m.requires_grad_(False)
            frozen.append(modality)
    return frozen


def apply_model_runtime(model: PixelTextGPT, cfg: TrainConfig, backend: str = "inductor") -> None:
    """model_runtime's switches, on the plain model before Composer wraps it (FSDP then shards each block
    with its recomputation and compiled forward inside)."""
    rt = cfg.model_runtime
    model.packed_attention = rt.packed_attention
    model.activation_checkpointing = rt.activation_checkpointing
    if rt.compile_blocks:
        for block in model.blocks:
            # Only the forward is compiled: the block stays the same module (its weights keep their names in
            # checkpoints and exports) and hooks on it (FSDP's gathers) run outside the compiled code.
            block.forward = torch.compile(block.forward, backend=backend)


def packed_row_factor(cfg: TrainConfig) -> int:
    """data.packed_row_factor, or its default: rows of 4 budgets where they go through FlexAttention (GPUs),
    which computes only the blocks within samples; 1 with the dense mask (CPU), whose cost grows with the
    square of the row length."""
    if cfg.data.packed_row_factor is not None:
        return cfg.data.packed_row_factor
    return 4 if cfg.device == "gpu" and cfg.model_runtime.packed_attention != "dense" else 1


def build_dataloader(cfg: TrainConfig, device_batch_size: int) -> tuple[PixelTextDataset, DataLoader]:
    d = cfg.data
    dataset = PixelTextDataset(
        [ShardSet(s.path, s.proportion) for s in d.shards],
        cache=cfg.resolved(d.cache),
        batch_size=device_batch_size,  # must equal the DataLoader's for deterministic resumption
        validate_hash=d.validate_hash,
        shuffle=d.shuffle,
        shuffle_seed=cfg.seed,
        num_canonical_nodes=d.num_canonical_nodes,
        epoch_size=d.epoch_size,
        predownload=d.predownload,
        cache_limit=d.cache_limit,
    )
    collate = Collator(
        max_tokens=d.max_tokens,
        max_patches=d.max_patches,
        pad_to_max=d.pad_to_max,
        packing=d.packing,
        row_factor=packed_row_factor(cfg),
        views=tuple(m for m, w in mixture_weights(cfg).items() if w),  # only the views the run trains
        # ids are range-checked here, on the host, not by the model on the device (a sync per step)
        vocab_size=cfg.model.get("vocab_size") or dataset.tokenizer.get("vocab_size"),
    )
    loader = DataLoader(
        dataset,
        batch_size=device_batch_size,
        collate_fn=collate,
        num_workers=d.num_workers,
        drop_last=True,
        pin_memory=cfg.device == "gpu",
        persistent_workers=d.num_workers > 0,
    )
    return dataset, loader


def build_eval_dataloader(
    cfg: TrainConfig, device_batch_size: int
) -> tuple[PixelTextDataset, DataLoader] | None:
    """The held-out sets of `eval.shards` in a fixed order (every evaluation sees the same samples)."""
    if not cfg.eval.shards:
        return None
    d, batch = cfg.data, cfg.eval.batch_size or device_batch_size
    dataset = PixelTextDataset(
        [ShardSet(s.path, s.proportion) for s in cfg.eval.shards],
        cache=os.path.join(cfg.resolved(d.cache), "heldout"),
        batch_size=batch,
        validate_hash=d.validate_hash,
        shuffle=False,
        num_canonical_nodes=d.num_canonical_nodes,
    )
    if dataset.max_tokens > d.max_tokens or dataset.max_patches > d.max_patches:
        raise ConfigError(
            f"eval.shards: the held-out sets hold samples of up to {dataset.max_tokens} tokens / "
            f"{dataset.max_patches} patches, more than this run's rows ({d.max_tokens} / {d.max_patches})"
        )
    collate = Collator(max_tokens=d.max_tokens, max_patches=d.max_patches, pad_to_max=d.pad_to_max)
    return dataset, DataLoader(dataset, batch_size=batch, collate_fn=collate, num_workers=0, drop_last=False)


def train(cfg: TrainConfig, callbacks: Sequence[Callback] = ()) -> dict[str, Any]:
    """Train `cfg` to its max_duration (resuming from save_folder when a checkpoint of run_name is there),
    then export the weights and draw the PNGs. Returns the summary (also in <output_dir>/summary.json).

    `callbacks` are extra Composer callbacks (tests use one to stop a run part-way)."""
    # fail fast on a bad model section, before any shard is read
    model_config(cfg, {"vocab_size": cfg.model.get("vocab_size", 1)})
    if cfg.fsdp.enabled:
        os.environ["FSDP_VERSION"] = "2"  # composer's FSDP1 path is CUDA-only; FSDP2 runs on both
    device = DeviceGPU() if cfg.device == "gpu" else DeviceCPU()
    dist.initialize_dist(device)  # before any StreamingDataset: every rank must agree on its shm prefix
    reproducibility.seed_all(cfg.seed)
    clean_stale_shared_memory()  # collective: local rank 0 cleans, the others wait for it

    world = dist.get_world_size()
    if cfg.global_batch_size % world:
        raise ConfigError(f"global_batch_size: {cfg.global_batch_size} is not divisible by the {world} ranks")
    device_bs = cfg.global_batch_size // world
    micro_bs = cfg.device_microbatch_size or device_bs
    if device_bs % micro_bs:
        raise ConfigError(
            f"device_microbatch_size: {micro_bs} does not divide the per-device batch {device_bs}"
        )

    out_dir = cfg.resolved(cfg.output_dir)
    os.makedirs(out_dir, exist_ok=True)
    if dist.get_global_rank() == 0:
        with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(to_dict(cfg), f, indent=2, sort_keys=True)

    dataset, loader = build_dataloader(cfg, device_bs)
    heldout = build_eval_dataloader(cfg, device_bs)
    try:
        return _fit(cfg, dataset, loader, heldout, out_dir, device, device_bs, micro_bs, callbacks)
    finally:
        # Free the cache folders now, so a later run in this process (a relaunch, a test) can use them.
        dataset.release()
        if heldout is not None:
            heldout[0].release()
        del dataset, loader, heldout
        gc.collect()


def _fit(
    cfg: TrainConfig,
    dataset: PixelTextDataset,
    loader: DataLoader,
    heldout: tuple[PixelTextDataset, DataLoader] | None,
    out_dir: str,
    device: Any,
    device_bs: int,
    micro_bs: int,
    callbacks: Sequence[Callback],
) -> dict[str, Any]:
    tokenizer = check_shards(cfg, dataset)
    mcfg = model_config(cfg, dataset.tokenizer)
    weights = mixture_weights(cfg)
    plain_model = PixelTextGPT(mcfg)
    freeze_unused(plain_model, weights)
    apply_model_runtime(plain_model, cfg)
    mixture = Mixture(weights, seed=cfg.seed, microbatches_per_step=device_bs // micro_bs)
    model = ComposerPixelTextGPT(plain_model, mixture.modalities)
    mixer = ModalityMixer(mixture)
    loss_log = LossLog(mixer, os.path.join(out_dir, LOSS_LOG))
    eval_log = [EvalLog(os.path.join(out_dir, EVAL_LOG))] if heldout else []
    guard = RunStateGuard(
        num_canonical_nodes=cfg.data.num_canonical_nodes,
        seed=cfg.seed,
        global_batch_size=cfg.global_batch_size,
        mixture=weights,
        shard_sets=[s.path for s in cfg.data.shards],
    )
    save_folder = cfg.resolved(cfg.save_folder) if cfg.save_folder else None
    fsdp = composer_fsdp(cfg.fsdp)
    algorithms: list[Any] = [mixer]
    if cfg.optimizer.grad_clip:
        from composer.algorithms import GradientClipping

        algorithms.append(GradientClipping(clipping_type="norm", clipping_threshold=cfg.optimizer.grad_clip))

    progress_bar = show_progress_bar(cfg.logging)
    clear_remote_mirror(save_folder)
    if save_folder and cfg.autoresume and dist.get_global_rank() == 0:
        try:
            repair_latest(save_folder)
        except CheckpointError as e:
            raise ConfigError(f"save_folder: {e}") from None
    dist.barrier()
    trainer = Trainer(
        model=model,
        # the mixer cuts each batch into micro-batches of its modalities; a packed batch counts its samples
        train_dataloader=DataSpec(
            loader, split_batch=mixer.split_batch, get_num_samples_in_batch=samples_in_batch
        ),
        eval_dataloader=(
            Evaluator(
                label="heldout",
                dataloader=DataSpec(heldout[1]),
                metric_names=list(model.val_metrics),
                subset_num_batches=cfg.eval.batches or -1,
            )
            if heldout
            else None
        ),
        eval_interval=cfg.eval.interval if heldout else 1,
        max_duration=cfg.max_duration,
        optimizers=build_optimizer(model, cfg.optimizer),
        schedulers=build_scheduler(cfg.scheduler),
        step_schedulers_every_batch=True,
        algorithms=algorithms,
        callbacks=[
            *build_callbacks(cfg.logging, cfg.device),
            InitOptimizerState(),
            loss_log,
            *([] if progress_bar else [ConsoleLine(loss_log, int(cfg.logging.console_interval[:-2]))]),
            *eval_log,
            guard,
            *callbacks,
        ],
        loggers=build_loggers(cfg.logging, out_dir, cfg.run_name),
        device=device,
        precision=cfg.precision,
        device_train_microbatch_size=micro_bs,
        parallelism_config={"fsdp": fsdp} if fsdp else None,
        compile_config={} if cfg.compile else None,
        run_name=cfg.run_name,
        save_folder=save_folder,
        save_interval=cfg.save_interval,
        save_num_checkpoints_to_keep=cfg.save_num_checkpoints_to_keep,
        # A run killed between uploading a checkpoint and its "latest" symlink resumes from the previous one
        # and re-saves the same (deterministic) checkpoint; without overwrite that upload would fail forever.
        save_overwrite=bool(cfg.autoresume and save_folder),
        autoresume=bool(cfg.autoresume and save_folder),
        seed=cfg.seed,
        progress_bar=progress_bar,
        log_to_console=False,  # ConsoleLine prints one compact line instead
    )
    _poll_uploads_often(trainer)
    try:
        trainer.fit()
        # rollouts on held-out strips when there are any (else the last training samples)
        source = heldout[0] if heldout else dataset
        return finish(cfg, trainer, source, mcfg, tokenizer, out_dir, resumed_from=loss_log.resumed_from)
    finally:
        trainer.close()
        clear_remote_mirror(save_folder)


def _poll_uploads_often(trainer: Trainer) -> None:
    """Composer publishes a remote checkpoint's "latest" symlink only after seeing the checkpoint in the
    bucket, polling every 30 s, and the end of `fit` waits for those polls: up to 30 s lost per checkpoint
    in flight, and a relaunch meanwhile resumes from an older checkpoint. A poll a second costs one HEAD
    request."""
    for callback in trainer.state.callbacks:
        if isinstance(callback, CheckpointSaver):
            callback._symlink_upload_wait_before_next_try_in_seconds = 1.0


def clear_remote_mirror(save_folder: str | None) -> None:
    """Composer's autoresume treats a remote save_folder as a local path too (`s3:/bucket/...` under the
    working directory): it downloads the latest checkpoint there and prefers that copy on the next launch,
    even when the bucket holds a newer one. Remove the mirror before and after each run, so a relaunch always
    resumes from the bucket's latest checkpoint."""
    if not save_folder or "://" not in save_folder:
        return
    if dist.get_local_rank() == 0:
        mirror = os.path.abspath(save_folder)
        shutil.rmtree(mirror, ignore_errors=True)
        scheme_dir = os.path.abspath(save_folder.split("/", 1)[0])  # e.g. ./s3:
        while mirror != scheme_dir and os.path.isdir(os.path.dirname(mirror)):
            mirror = os.path.dirname(mirror)
            try:
                os.rmdir(mirror)  # only empty folders: other runs' mirrors stay
            except OSError:
                break
    dist.barrier()


def finish(
    cfg: TrainConfig,
    trainer: Trainer,
    dataset: PixelTextDataset,
    mcfg: ModelConfig,
    tokenizer: Tokenizer,
    out_dir: str,
    resumed_from: int,
) -> dict:
    """Export (full weights gathered from all ranks, the tokenizer's files, the renderer config of the
    shards), then on rank 0: loss curves, rollouts, summary."""
    export_dir = os.path.join(out_dir, EXPORT_DIR)
    wrapped = trainer.state.model
    inner = (wrapped.module if isinstance(wrapped, DistributedDataParallel) else wrapped).model
    if cfg.fsdp.enabled:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(inner, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        state = {k: v.detach().cpu() for k, v in inner.state_dict().items()}
    rollout_samples = [
        dataset[dataset.num_samples - 1 - i] for i in range(min(cfg.rollouts, dataset.num_samples))
    ]
    summary: dict[str, Any] = {}
    if dist.get_global_rank() == 0:
        plain = PixelTextGPT(mcfg)
        plain.load_state_dict(state, strict=True)
        modalities = [m for m, w in mixture_weights(cfg).items() if w]
        training = {
            "variant": cfg.variant,
            "modalities": modalities,
            "steps": int(trainer.state.timestamp.batch),
        }
        write_export(export_dir, plain, tokenizer, dataset.metas[0]["renderer"], training)
        records = read_loss_log(os.path.join(out_dir, LOSS_LOG))
        evals = read_loss_log(os.path.join(out_dir, EVAL_LOG))
        summary = {
            "run_name": cfg.run_name,
            "variant": cfg.variant,
            "steps": int(trainer.state.timestamp.batch),
            "resumed_from": resumed_from,  # the checkpoint step this process started from (0: fresh)
            "fsdp_units": sum(isinstance(m, FSDPModule) for m in trainer.state.model.modules()),
            "losses": report.loss_summary(records),
            "heldout": evals[-1] if evals else None,  # the last evaluation's metrics
            "export_dir": export_dir,
            "loss_png": report.plot_losses(
                records, os.path.join(out_dir, LOSS_PNG), f"{cfg.run_name} ({cfg.variant})", evals
            ),
            "rollout_pngs": [],
            "save_folder": cfg.resolved(cfg.save_folder) if cfg.save_folder else None,
            "parameters": plain.num_parameters(),
        }
        if cfg.variant != "textgpt" and rollout_samples:
            plain.eval()
            summary["rollout_pngs"] = report.draw_rollouts(
                plain, rollout_samples, os.path.join(out_dir, "rollouts"), cfg.rollout_context
            )
        with open(os.path.join(out_dir, SUMMARY), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2, sort_keys=True)
    dist.barrier()
    return summary


def format_summary(summary: dict) -> str:
    """A short table of first/last losses per modality and the output paths."""
    lines = [f"{summary['run_name']} ({summary['variant']}): {summary['steps']} steps"]
    lines.append(f"  {'modality':<8} {'first':>8} {'last':>8} {'first5':>8} {'last5':>8}")
    for modality, s in summary["losses"].items():
        values = " ".join(f"{s[k]:>8.4f}" for k in ("first", "last", "first_mean", "last_mean"))
        lines.append(f"  {modality:<8} {values}")
    lines.append(f"  export:   {summary['export_dir']}")
    lines.append(f"  losses:   {summary['loss_png']}")
    for p in summary["rollout_pngs"]:
        lines.append(f"  rollout:  {p}")
    return "\n".join(lines)
