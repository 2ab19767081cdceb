"""Run by `composer -n 2` in test_train_distributed, one launch so that the launch and its imports are paid
once: each variant trains a few steps with DDP (no FSDP), then the tiny DualGPT with FSDP2 and sharded
checkpoints.

    composer -n 2 tests/train/two_process_runs.py SHARDS ROOT
"""

import os
import sys

from pixelgpt.train.config import load_config
from pixelgpt.train.trainer import train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(shards: str, root: str, variant: str, run_name: str, *extra: str) -> None:
    overrides = [
        f"data.shards=[{{path: {shards}}}]",
        f"run_name={run_name}",
        f"data.cache={root}/cache/{{run_name}}",
        f"output_dir={root}/runs/{{run_name}}",
        "rollouts=0",
        "logging.tensorboard=false",
        *extra,
    ]
    train(load_config(os.path.join(REPO, "yamls", "tiny", f"{variant}.yaml"), overrides))


if __name__ == "__main__":
    shards, root = sys.argv[1:3]
    for variant in ("textgpt", "pixelgpt", "monogpt", "dualgpt"):
        run(shards, root, variant, f"ddp-{variant}", "save_folder=null", "max_duration=3ba")
    run(shards, root, "dualgpt", "fsdp", "fsdp.enabled=true", "max_duration=4ba", "save_interval=2ba",
        f"save_folder={root}/ckpt/{{run_name}}")  # fmt: skip
