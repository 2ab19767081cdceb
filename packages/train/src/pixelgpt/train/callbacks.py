"""Composer hooks of the trainer: the modality mixer, the per-modality loss log, the run-state guard."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import torch
from composer.core import Algorithm, Callback, Event, State
from composer.loggers import Logger
from composer.utils import dist

from pixelgpt.train.micro_batches import select_modality, split_packed
from pixelgpt.train.mixture import Mixture


class ModalityMixer(Algorithm):
    """Gives each micro-batch the modality the mixture picks for (step, micro-batch index) and only that
    view of its samples: text -> token ids only, image -> patches only, pair -> both. It is also the
    DataSpec's `split_batch`: the step's batch is cut into micro-batches already narrowed (unpacked: rows
    [m*size, (m+1)*size); packed: micro_batches.split_packed), so unused views never reach the device."""

    def __init__(self, mixture: Mixture) -> None:
        self.mixture = mixture
        self.plan: list[str] = []  # the modality of each micro-batch of the step being trained
        self.micro = 0
        self.current: str | None = None

    @property
    def find_unused_parameters(self) -> bool:
        """Composer reads this to build DDP: a text-only micro-batch leaves the patch embedding and pixel head
        without gradients (and an image-only one the token side), which DDP must be told to expect. Variants
        that never train a modality freeze its parameters instead (trainer.freeze_unused)."""
        mods = set(self.mixture.modalities)
        return bool(mods & {"text", "image"}) and len(mods) > 1

    def match(self, event: Event, state: State) -> bool:
        return event in (Event.AFTER_DATALOADER, Event.BEFORE_TRAIN_BATCH, Event.BEFORE_FORWARD)

    def apply(self, event: Event, state: State, logger: Logger) -> None:
        if event == Event.AFTER_DATALOADER:  # before split_batch: the step is known, its plan is made once
            step = int(state.timestamp.batch)
            self.plan = [self.mixture.modality(step, m) for m in range(self.mixture.microbatches_per_step)]
        elif event == Event.BEFORE_TRAIN_BATCH:
            self.micro = 0
        else:
            self.current = self.plan[min(self.micro, len(self.plan) - 1)]
            self.micro += 1

    def split_batch(self, batch: dict[str, Any], microbatch_size: int) -> list[dict[str, Any]]:
        """Composer's split_batch: micro-batch m of the step, narrowed to the modality plan[m]."""
        if "samples" in batch:  # packed
            return split_packed(batch, self.plan)
        return [
            select_modality(
                {k: v[m * microbatch_size : (m + 1) * microbatch_size] for k, v in batch.items()}, mod
            )
            for m, mod in enumerate(self.plan)
        ]


def samples_in_batch(batch: dict[str, Any]) -> int:
    """Composer's get_num_samples_in_batch: a packed batch or micro-batch says how many samples its rows
    hold (what the sample counter, hence streaming's resumption, and the micro-batch weights count); an
    unpacked one holds a sample per row."""
    if "samples" in batch:
        return int(batch["samples"])
    return next(iter(batch.values())).shape[0]


class LossLog(Callback):
    """Records every micro-batch's losses (averaged over ranks) with its modality to `path` (JSON lines,
    rank 0) and logs them as loss/train/<modality>. On resume, the records after the checkpoint are dropped,
    so the file always describes exactly the run's history."""

    def __init__(self, mixer: ModalityMixer, path: str) -> None:
        self.mixer = mixer
        self.path = path
        self._pending: list[tuple[str, torch.Tensor]] = []
        self._first = True
        self.resumed_from = 0  # the step this process started from (> 0: restored from a checkpoint)
        self.last: list[tuple[str, float]] = []  # (modality, loss) of the last step's micro-batches

    def fit_start(self, state: State, logger: Logger) -> None:
        self._first = True

    def before_train_batch(self, state: State, logger: Logger) -> None:
        self._pending = []

    def after_loss(self, state: State, logger: Logger) -> None:
        # Kept on the device until the step ends: reading a loss here would wait for the accelerator on every
        # micro-batch; batch_end reads them all at once. A micro-batch without targets (an empty slice of a
        # packed view with fewer rows than micro-batches) has loss 0 and is left out of the averages.
        out = state.outputs
        nan = torch.full((), math.nan, device=out.loss.device)
        counts = [c for c in (out.text_targets, out.pixel_targets) if c is not None]
        has = (sum(counts) > 0).double() if counts else torch.ones((), device=out.loss.device).double()
        values = [
            nan if v is None else v.detach().reshape(()) for v in (out.loss, out.text_loss, out.pixel_loss)
        ]
        self._pending.append(
            (self.mixer.current or "?", torch.cat([torch.stack(values).double() * has, has[None]]))
        )

    def batch_end(self, state: State, logger: Logger) -> None:
        if not self._pending:
            return
        t = state.device.tensor_to_device(torch.stack([v for _, v in self._pending]))
        dist.all_reduce(t, reduce_operation="SUM")  # every rank ran the same modalities, so shapes agree
        step = int(state.timestamp.batch)
        records = []
        for micro, ((modality, _), (loss, text, pixel, ranks)) in enumerate(zip(self._pending, t.tolist())):
            if ranks == 0:
                continue  # no rank had a target in this micro-batch
            loss, text, pixel = loss / ranks, text / ranks, pixel / ranks  # the mean over ranks with targets
            rec = {"step": step, "micro": micro, "modality": modality, "loss": loss}
            if not math.isnan(text):
                rec["text_loss"] = text
            if not math.isnan(pixel):
                rec["pixel_loss"] = pixel
            records.append(rec)
            logger.log_metrics({f"loss/train/{modality}": loss})
        self.last = [(r["modality"], r["loss"]) for r in records]
        if self._first:
            self._first, self.resumed_from = False, step - 1
            if dist.get_global_rank() == 0:  # keep the history before this step; a resume replays the rest
                kept = [r for r in read_loss_log(self.path) if r["step"] < step]
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
                with open(self.path, "w", encoding="utf-8") as f:
                    f.writelines(json.dumps(r) + "\n" for r in kept)
        if dist.get_global_rank() == 0:
            with open(self.path, "a", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in records)


class EvalLog(Callback):
    """After each evaluation, the held-out metrics with their step as one JSON line of `path` (rank 0). A
    resumed run drops the lines of steps it replays, like LossLog."""

    def __init__(self, path: str, label: str = "heldout") -> None:
        self.path, self.label = path, label
        self._first = True

    def fit_start(self, state: State, logger: Logger) -> None:
        self._first = True

    def eval_end(self, state: State, logger: Logger) -> None:
        metrics = state.eval_metrics.get(self.label, {})
        values = {name: float(m.compute()) for name, m in metrics.items()}
        if dist.get_global_rank() != 0:
            return
        step = int(state.timestamp.batch)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if self._first:
            self._first = False
            kept = [r for r in read_loss_log(self.path) if r["step"] < step]
            with open(self.path, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")


def read_loss_log(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class ConsoleLine(Callback):
    """One line per `every` batches on rank 0, with the mean loss of each modality trained since the last
    line, the learning rate and the throughput, instead of Composer's many-line console dump:

        [step 20/40] text 3.512  image 0.873  pair 4.910 | lr 2.9e-03 | 41.3 samples/s
    """

    def __init__(self, loss_log: LossLog, every: int) -> None:
        self.loss_log, self.every = loss_log, max(1, every)
        self._since: dict[str, list[float]] = {}
        self._t0, self._sample0 = 0.0, 0

    def fit_start(self, state: State, logger: Logger) -> None:
        self._t0, self._sample0 = time.perf_counter(), int(state.timestamp.sample)

    def batch_end(self, state: State, logger: Logger) -> None:
        for modality, loss in self.loss_log.last:
            self._since.setdefault(modality, []).append(loss)
        step = int(state.timestamp.batch)
        duration = state.max_duration
        total = int(duration.value) if duration is not None and duration.unit.name == "BATCH" else None
        if (step % self.every and step != total) or dist.get_global_rank() != 0:
            return
        losses = "  ".join(f"{m} {sum(v) / len(v):.3f}" for m, v in self._since.items())
        lr = state.schedulers[0].get_last_lr()[0] if state.schedulers else float("nan")
        rate = (int(state.timestamp.sample) - self._sample0) / max(time.perf_counter() - self._t0, 1e-9)
        print(f"[step {step}/{total or '?'}] {losses} | lr {lr:.1e} | {rate:.1f} samples/s", flush=True)
        self._since, self._t0, self._sample0 = {}, time.perf_counter(), int(state.timestamp.sample)


class InitOptimizerState(Callback):
    """Gives every trainable parameter its AdamW state (step 0, zero moments) before a checkpoint is loaded.

    AdamW creates a parameter's state at its first gradient, so a checkpoint written before a modality was
    first trained (step 1 of a MonoGPT run was text only) lacks that modality's state, and loading it fails in
    torch's optimizer-state loader (KeyError naming the parameter). The state made here is exactly what AdamW
    would make lazily, and AdamW skips parameters without gradients, so the maths is unchanged."""

    def before_load(self, state: State, logger: Logger) -> None:
        step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
        for optimizer in state.optimizers:
            if not isinstance(optimizer, torch.optim.AdamW):
                continue
            for group in optimizer.param_groups:
                if group.get("fused") or group.get("capturable"):
                    continue  # their step lives on the device; leave them to AdamW
                for p in group["params"]:
                    if p.requires_grad and not optimizer.state[p]:
                        entry = {
                            "step": torch.tensor(0.0, dtype=step_dtype),
                            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                        }
                        if group.get("amsgrad"):
                            entry["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                        optimizer.state[p] = entry


class RunStateGuard(Callback):
    """Stores the settings that decide the data order in every checkpoint and refuses to resume when they
    changed: a different NCN, seed, global batch size or mixture would silently replay or skip samples."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def state_dict(self) -> dict[str, Any]:
        return dict(self.settings)

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        changed = {k: (saved.get(k), v) for k, v in self.settings.items() if saved.get(k) != v}
        if changed:
            lines = ", ".join(f"{k}: checkpoint {old!r} -> now {new!r}" for k, (old, new) in changed.items())
            raise ValueError(
                f"cannot resume: the checkpoint was written with other data-order settings ({lines}); "
                "restore them, or start a new run (another run_name or save_folder)"
            )
