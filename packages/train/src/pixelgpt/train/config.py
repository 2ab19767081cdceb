"""Training configuration: YAML -> dataclasses, with `a.b=value` command-line overrides.

Unknown keys, missing required keys and values of the wrong type fail at load time (pixelgpt.config.from_dict)
with a ConfigError naming the key (e.g. `data.shards[0].path`). This module imports no torch or composer, so a
bad config fails fast.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pixelgpt.config import ConfigError, from_dict

Variant = Literal["textgpt", "pixelgpt", "monogpt", "dualgpt"]


@dataclass
class ShardSetConfig:
    path: str  # local folder or s3://bucket/prefix holding index.json + meta.json
    proportion: float | None = None


@dataclass
class DataConfig:
    shards: list[ShardSetConfig]
    cache: str  # scratch folder for downloaded shards; never the published folder
    max_tokens: int = 1024  # token row length; a shard set rendered for longer rows is refused
    max_patches: int = 1024  # patch row length; likewise
    # The tokenizer the run expects (a tokenizer.model / tokenizer.json / directory): shard sets tokenized
    # otherwise are refused. None: whatever tokenizer the shard sets share.
    tokenizer: str | None = None
    num_workers: int = 0
    shuffle: bool = True
    num_canonical_nodes: int = 1
    epoch_size: int | None = None
    predownload: int | None = None
    cache_limit: str | None = None
    validate_hash: str | None = "xxh64"  # every downloaded shard is hash-checked (null: off)
    pad_to_max: bool = False
    # Several samples per row (dataset.collate), attention and RoPE per sample, so the losses are the
    # unpacked ones. A batch is still global_batch_size samples (what checkpoints and resumption count); each
    # rank packs its share into rows of each trained view, and micro-batch m takes the m-th of
    # (per-device batch / device_microbatch_size) slices of its modality's rows: about the positions of
    # device_microbatch_size samples, as unpacked.
    packing: bool = False
    # Packed rows are this many budgets long (text packed_row_factor x max_tokens, image x max_patches, pair
    # x (max_patches + max_tokens)). Longer rows pack tighter (bench/efficiency.py: real share >= 0.97 at 4
    # on short documents, 0.73-0.84 at 1) and cost no attention with FlexAttention, which skips the blocks
    # across samples, but the dense mask of the CPU path costs O(row length^2). None: 4 where packed rows go
    # through FlexAttention (device gpu, packed_attention auto or flex), else 1.
    packed_row_factor: int | None = None


@dataclass
class EvalConfig:
    """Validation during pretraining: the trained modalities' losses on held-out shard sets (render them from
    held-out documents, so that no document is in both: the corpora's validation files, or the render job's
    held-out split, JobConfig.heldout / split)."""

    shards: list[ShardSetConfig] = field(default_factory=list)  # held-out sets; empty: no evaluation
    interval: str = "500ba"  # evaluate every this many batches (and at the end)
    batches: int | None = None  # batches per evaluation; None: the whole held-out sets
    batch_size: int | None = None  # per device; None: the training per-device batch


@dataclass
class MixtureConfig:
    text: int = 0
    image: int = 0
    pair: int = 0


@dataclass
class OptimizerConfig:
    lr: float = 5e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip: float | None = 1.0


@dataclass
class SchedulerConfig:
    name: Literal["cosine", "linear", "constant"] = "cosine"
    warmup: str = "200ba"
    alpha_f: float = 0.1  # final LR as a fraction of the peak


@dataclass
class MixedPrecisionConfig:
    """FSDP2's MixedPrecisionPolicy spelled out. The sharded parameters, which the optimizer updates (the
    master weights), keep the model's fp32; each block is gathered in param_dtype and computes in it, and its
    gradients are reduce-scattered in reduce_dtype."""

    param_dtype: Literal["bf16", "fp16", "fp32"] = "bf16"
    reduce_dtype: Literal["fp32", "bf16", "fp16"] = "fp32"


@dataclass
class FsdpConfig:
    enabled: bool = False
    state_dict_type: Literal["sharded", "full"] = "sharded"
    # Composer's presets (with precision amp_bf16: PURE = bf16 params and reductions, DEFAULT = bf16 params,
    # fp32 reductions, FULL = fp32) or a mapping {param_dtype, reduce_dtype} (MixedPrecisionConfig)
    mixed_precision: Literal["DEFAULT", "PURE", "FULL"] | MixedPrecisionConfig = "PURE"
    reshard_after_forward: bool = True
    activation_checkpointing: bool = False  # Composer's, FSDP only (model_runtime has one for any run)
    # HSDP: this many replicas of the model, each sharded over world_size / replicate consecutive ranks; set
    # it to the number of hosts to shard within a host and replicate across hosts (1: shard over all ranks)
    replicate: int = 1


@dataclass
class ModelRuntimeConfig:
    """Switches that change a step's speed and memory, never its maths."""

    # Recompute each decoder block in the backward pass instead of keeping its activations (about 1/3 more
    # compute for the memory of one block's activations), with or without FSDP; set this or
    # fsdp.activation_checkpointing, not both.
    activation_checkpointing: bool = False
    # torch.compile each decoder block in place (weights keep their names, checkpoints stay loadable);
    # `compile: true` compiles the whole model through Composer instead: set one of them.
    compile_blocks: bool = False
    # Attention of packed rows: auto = FlexAttention on GPUs (compiled kernel, skips blocks across samples),
    # a dense per-sample mask with SDPA on the CPU; flex or dense force one (flex needs a GPU).
    packed_attention: Literal["auto", "flex", "dense"] = "auto"


@dataclass
class WandbConfig:
    enabled: bool = False  # Weights & Biases through Composer's WandBLogger
    project: str = "pixelgpt"  # the W&B project
    entity: str | None = None  # the W&B team or user (None: the account's default)
    mode: Literal["offline", "online"] = "offline"  # offline: files under <output_dir>/wandb, no network
    # (upload later with `wandb sync`); online needs WANDB_API_KEY


@dataclass
class MlflowConfig:
    enabled: bool = False  # MLflow through Composer's MLFlowLogger
    tracking_uri: str = "{output_dir}/mlruns"  # a local file store (default) or an MLflow server's URL
    experiment: str = "pixelgpt"  # the MLflow experiment name


@dataclass
class LoggingConfig:
    tensorboard: bool = True  # TensorBoard event files under <output_dir>/tensorboard
    file: bool = True  # Composer's text log under <output_dir>/logs/rank{rank}.txt
    console_interval: str = "10ba"  # one console line per this many batches (when no progress bar)
    progress_bar: Literal["auto", "on", "off"] = "auto"  # Composer's progress bar; auto: on for a terminal
    speed_window: int = 10  # batches averaged by the throughput (and MFU) monitor
    memory_monitor: bool = False  # GPU memory per step (GPUs only)
    peak_flops_per_device: float | None = None  # for MFU where composer cannot detect the accelerator
    wandb: WandbConfig = field(default_factory=WandbConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)


@dataclass
class TrainConfig:
    run_name: str
    variant: Variant
    data: DataConfig
    global_batch_size: int
    max_duration: str
    model: dict[str, Any] = field(default_factory=dict)  # preset: tiny|paper, plus ModelConfig fields
    mixture: MixtureConfig | None = None  # None: the variant's default ratio
    device_microbatch_size: int | None = None  # None: the whole per-device batch in one micro-batch
    seed: int = 17
    device: Literal["cpu", "gpu"] = "cpu"
    precision: Literal["fp32", "amp_bf16", "amp_fp16"] = "fp32"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    fsdp: FsdpConfig = field(default_factory=FsdpConfig)
    model_runtime: ModelRuntimeConfig = field(default_factory=ModelRuntimeConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    save_folder: str | None = None  # local folder or s3://...; {run_name} is filled in
    save_interval: str = "1000ba"
    save_num_checkpoints_to_keep: int = -1
    autoresume: bool = True
    output_dir: str = "runs/{run_name}"
    rollouts: int = 4  # held-out strips rolled out in the PNG (pixel variants); 0 = none
    rollout_context: int = 8  # patches of context before the rollout
    compile: bool = False

    def resolved(self, template: str) -> str:
        return template.replace("{run_name}", self.run_name)


# ---------------------------------------------------------------------------------------------------------
# YAML + overrides


def apply_override(data: dict, item: str) -> None:
    """Apply one `a.b.c=value` override in place; the value is parsed as YAML (`lr=1e-3`, `x=[1,2]`)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected key=value")
    path, raw = item.split("=", 1)
    keys = path.strip().split(".")
    if not all(keys):
        raise ConfigError(f"override {item!r}: empty key")
    node = data
    for i, k in enumerate(keys[:-1]):
        nxt = node.get(k)
        if nxt is None:
            nxt = node[k] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"override {item!r}: {'.'.join(keys[: i + 1])!r} is not a mapping")
        node = nxt
    node[keys[-1]] = yaml.safe_load(raw) if raw.strip() else None


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), **data: Any
) -> TrainConfig:
    """YAML file (optional) + keyword data (merged on top) + `a.b=value` overrides -> TrainConfig."""
    raw: dict = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the config ({e.strerror})") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML ({' '.join(str(e).split())})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
    raw.update(data)
    for item in overrides:
        apply_override(raw, item)
    cfg = from_dict(TrainConfig, raw)
    validate(cfg)
    return cfg


_DURATION = re.compile(r"^(\d+)(ba|ep|sp|tok)$")  # Composer's time strings that a run can be given


def check_duration(key: str, value: Any, minimum: int = 1) -> None:
    m = _DURATION.match(str(value))
    if not m or int(m.group(1)) < minimum:
        raise ConfigError(
            f"{key}: {value!r} is not a duration like 100ba (batches), 2ep (epochs), 5000sp (samples) "
            f"or 1000000tok (tokens), at least {minimum}"
        )


def validate(cfg: TrainConfig) -> None:
    """Cross-field checks that types alone cannot express."""
    check_duration("max_duration", cfg.max_duration)
    check_duration("save_interval", cfg.save_interval)
    check_duration("scheduler.warmup", cfg.scheduler.warmup, minimum=0)
    check_duration("eval.interval", cfg.eval.interval)
    for key in ("batches", "batch_size"):
        if getattr(cfg.eval, key) is not None and getattr(cfg.eval, key) < 1:
            raise ConfigError(f"eval.{key}: must be >= 1 (or null)")
    if not str(cfg.logging.console_interval).endswith("ba"):
        raise ConfigError(
            f"logging.console_interval: want batches like 10ba, got {cfg.logging.console_interval!r}"
        )
    check_duration("logging.console_interval", cfg.logging.console_interval)
    if cfg.global_batch_size < 1:
        raise ConfigError(f"global_batch_size: must be >= 1, got {cfg.global_batch_size}")
    if not cfg.data.shards:
        raise ConfigError("data.shards: at least one shard set is needed")
    if cfg.device_microbatch_size is not None and cfg.device_microbatch_size < 1:
        raise ConfigError(f"device_microbatch_size: must be >= 1, got {cfg.device_microbatch_size}")
    if cfg.model.get("preset", "tiny") not in ("tiny", "paper"):
        raise ConfigError(f"model.preset: {cfg.model['preset']!r} is not one of ['tiny', 'paper']")
    if cfg.data.packed_row_factor is not None and cfg.data.packed_row_factor < 1:
        raise ConfigError(f"data.packed_row_factor: must be >= 1 (or null), got {cfg.data.packed_row_factor}")
    for key in ("max_tokens", "max_patches", "num_canonical_nodes"):
        if getattr(cfg.data, key) < 1:
            raise ConfigError(f"data.{key}: must be >= 1")
    if cfg.precision != "fp32" and cfg.device == "cpu":
        raise ConfigError(f"precision: {cfg.precision!r} needs device: gpu (composer on CPU trains in fp32)")
    rt = cfg.model_runtime
    if rt.compile_blocks and cfg.compile:
        raise ConfigError(
            "model_runtime.compile_blocks: `compile: true` already compiles the whole model; set one of them"
        )
    if rt.activation_checkpointing and cfg.fsdp.enabled and cfg.fsdp.activation_checkpointing:
        raise ConfigError(
            "model_runtime.activation_checkpointing: fsdp.activation_checkpointing is on too; set one of them"
        )
    if rt.packed_attention == "flex" and cfg.device == "cpu":
        raise ConfigError(
            "model_runtime.packed_attention: 'flex' needs device: gpu (compiled FlexAttention is CUDA-only "
            "in torch 2.7); 'auto' uses a dense mask on the CPU"
        )
    if cfg.fsdp.replicate < 1:
        raise ConfigError(f"fsdp.replicate: must be >= 1, got {cfg.fsdp.replicate}")
    if cfg.fsdp.replicate > 1 and not cfg.fsdp.enabled:
        raise ConfigError("fsdp.replicate: hybrid sharding needs fsdp.enabled=true")


def to_dict(cfg: TrainConfig) -> dict:
    return dataclasses.asdict(cfg)
