"""What each host runs in the cluster tests: `composer ... tests/cluster/train_host.py CONFIG [KEY=VALUE]`.

packages/train/run.py's training (the same config loading and `train`), plus a record of the samples each rank
reads: one JSON line per step in <output_dir>/samples-rank<R>.jsonl, {"step", "rank", "host", "ids"} with the
global sample indices of the rank's batch, appended across launches (a resumed run replays the steps after
its checkpoint; the last line of a (step, rank) is the one that counts).
"""

from __future__ import annotations

import json
import os
import socket
import sys


def main(argv: list[str]) -> None:
    # Imported here, not at the top: Composer's uploaders are spawned processes that import this module as
    # __mp_main__, and must not pay for the trainer's imports.
    from composer.core import Callback
    from composer.utils import dist

    from pixelgpt.dataset.streaming import PixelTextDataset
    from pixelgpt.train.config import load_config
    from pixelgpt.train.trainer import train

    read: list[int] = []  # sample indices read since the last batch (no loader workers: this process)
    getitem = PixelTextDataset.__getitem__

    def recording_getitem(self, idx):
        read.append(int(idx))
        return getitem(self, idx)

    PixelTextDataset.__getitem__ = recording_getitem

    class SampleRecord(Callback):
        def __init__(self, folder: str) -> None:
            self.folder = folder

        def after_dataloader(self, state, logger) -> None:
            rank = dist.get_global_rank()
            step = int(state.timestamp.batch) + 1
            line = {"step": step, "rank": rank, "host": socket.gethostname(), "ids": list(read)}
            os.makedirs(self.folder, exist_ok=True)
            with open(os.path.join(self.folder, f"samples-rank{rank}.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
            read.clear()

    # Composer checks that a checkpoint's files reached the bucket before it uploads the "latest" symlink,
    # retrying every 30 s; the tests kill a host once that symlink is there, so they check every second.
    from composer.callbacks import CheckpointSaver

    init = CheckpointSaver.__init__

    def quick_symlink_checks(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._symlink_upload_wait_before_next_try_in_seconds = 1.0

    CheckpointSaver.__init__ = quick_symlink_checks

    cfg = load_config(argv[0], argv[1:])
    train(cfg, callbacks=[SampleRecord(cfg.resolved(cfg.output_dir))])


if __name__ == "__main__":
    main(sys.argv[1:])
