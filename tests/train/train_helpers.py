"""What several train tests share: reading a run's losses, and callbacks that stop or observe a fit."""

from __future__ import annotations

import json
import os

from composer.core import Callback


def read_losses(out_dir) -> list[dict]:
    with open(os.path.join(out_dir, "losses.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class StopAt(Callback):
    """Simulates a crash right after step `at` (KeyboardInterrupt, like Ctrl-C)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def batch_end(self, state, logger) -> None:
        if int(state.timestamp.batch) == self.at:
            raise KeyboardInterrupt(f"stopped after step {self.at}")


class FitStart(Callback):
    """Records the step a fit starts from (0 fresh, k after resuming from a checkpoint of step k)."""

    def __init__(self) -> None:
        self.step: int | None = None

    def fit_start(self, state, logger) -> None:
        self.step = int(state.timestamp.batch)
