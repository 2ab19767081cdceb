"""FSDP2 settings for Composer 0.32.1: hybrid sharding (HSDP) and correct gradient averaging over gloo.

HSDP (`fsdp.replicate: R`): shard the model within groups of ranks and replicate it across the groups;
with R = the number of hosts, parameter gathers stay inside a host and only gradient all-reduces cross hosts.
Composer builds the device mesh itself (`State._create_device_mesh`) from `data_parallel_replicate_degree`,
which FSDP2Config pins to None, and then overwrites FSDP2Config.device_mesh with that 1-D mesh: a mesh passed
in is ignored. `HSDPConfig` is the FSDP2Config whose replicate degree is the configured one, so Composer
makes the 2-D mesh (dp_replicate, dp_shard) and `fully_shard` shards over dp_shard and replicates over
dp_replicate. init_device_mesh lays ranks out row-major, so a shard group is S = world / R consecutive ranks
(n*S..n*S+S-1): exactly the processes of one host when every host runs S of them.

gloo (CPU runs: tests, rehearsals). torch 2.7's FSDP2 averages gradients with ReduceOp.AVG in fp32/bf16, which
gloo lacks: its reduce-scatter silently sums instead (an N-process FSDP run on CPU trained on N times the
gradient: with gradient clipping that changes the updates, so the run's losses differed from a one-process
run's after the first step), and the HSDP replica all-reduce fails ("Cannot use ReduceOp.AVG with Gloo"). On
gloo groups FSDP2 is made to sum and divide once after the reductions, its own path for fp16 (predivide 1,
postdivide N): the same average NCCL computes. HSDP also asserts that its all-reduce recorded a completion
event, which a CPU stream never does (CPU collectives are synchronous): a torch.cpu.Event stands in. CUDA/NCCL
runs are untouched (`patch_for_gloo` changes nothing for non-gloo groups or non-CPU tensors).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from composer.utils import dist
from composer.utils.parallelism import FSDP2Config

from pixelgpt.train.config import ConfigError, FsdpConfig


@dataclasses.dataclass
class HSDPConfig(FSDP2Config):
    replicate: int = 1  # model replicas; each is sharded over world_size / replicate consecutive ranks

    @property
    def data_parallel_replicate_degree(self) -> int | None:  # read by Composer when it builds the mesh
        return self.replicate if self.replicate > 1 else None


def composer_fsdp(cfg: FsdpConfig, state_dict_type: str | None = None) -> dict[str, Any] | FSDP2Config | None:
    """Composer's parallelism_config["fsdp"] from a YAML's `fsdp` section (None when it is off), for
    pretraining and fine-tuning alike; `state_dict_type` overrides the section's."""
    if not cfg.enabled:
        return None
    mp = cfg.mixed_precision  # a preset name, or {param_dtype, reduce_dtype}
    fsdp = {
        "state_dict_type": state_dict_type or cfg.state_dict_type,
        "mixed_precision": mp if isinstance(mp, str) else dataclasses.asdict(mp),
        "reshard_after_forward": cfg.reshard_after_forward,
        "activation_checkpointing": cfg.activation_checkpointing,
    }
    return with_replicas(fsdp, cfg.replicate)


def with_replicas(fsdp: dict[str, Any] | FSDP2Config, replicate: int) -> dict[str, Any] | FSDP2Config:
    """The trainer's FSDP settings (Composer's dict or an FSDP2Config), hybrid-sharded over `replicate`
    groups when replicate > 1 (unchanged otherwise). Needs torch.distributed initialised (the world size);
    makes FSDP2 average correctly over gloo (`patch_for_gloo`)."""
    patch_for_gloo()
    if replicate <= 1:
        return fsdp
    world = dist.get_world_size()
    if world % replicate or world == replicate:
        raise ConfigError(
            f"fsdp.replicate: {replicate} replicas need a world size that is a larger multiple of it "
            f"(each replica is sharded over world/replicate ranks), got {world} ranks"
        )
    if isinstance(fsdp, FSDP2Config):
        attrs = {k: getattr(fsdp, k) for k in FSDP2Config.settable_attrs()}
    else:
        attrs = dict(fsdp)
    unknown = sorted(set(attrs) - FSDP2Config.settable_attrs())
    if unknown:
        raise ConfigError(f"fsdp: {', '.join(unknown)} not supported with FSDP2")
    return HSDPConfig(**attrs, replicate=replicate)


def patch_for_gloo() -> None:
    """FSDP2 on gloo groups: sum, then divide by the data-parallel size; a CPU event for HSDP's all-reduce
    (module docstring). Idempotent; no effect on other backends or devices."""
    import torch
    import torch.distributed as tdist
    from torch.distributed.fsdp._fully_shard import _fsdp_collectives as collectives
    from torch.distributed.fsdp._fully_shard import _fsdp_param_group as param_group

    original_factors = collectives._get_gradient_divide_factors
    if getattr(original_factors, "pixelgpt_gloo", False):
        return

    def divide_factors(reduce_scatter_group, all_reduce_group, reduce_dtype, device_type=""):
        if tdist.get_backend(reduce_scatter_group) == "gloo":
            replicas = all_reduce_group.size() if all_reduce_group is not None else 1
            return 1.0, float(reduce_scatter_group.size() * replicas)
        return original_factors(reduce_scatter_group, all_reduce_group, reduce_dtype, device_type)

    original_reduce = param_group.foreach_reduce

    def foreach_reduce(*args, **kwargs):
        out = original_reduce(*args, **kwargs)
        all_reduce_input, all_reduce_event = out[3], out[4]
        on_cpu = all_reduce_input is not None and all_reduce_input.device.type == "cpu"
        if on_cpu and all_reduce_event is None:
            out = (*out[:4], torch.cpu.Event(), *out[5:])
        return out

    divide_factors.pixelgpt_gloo = True
    collectives._get_gradient_divide_factors = divide_factors
    param_group.foreach_reduce = foreach_reduce
