"""Run by `composer -n 2` in test_train_distributed: each variant trains a few steps with DDP (no FSDP) in
one launch, so that the launch and its imports are paid once.

    composer -n 2 tests/train/ddp_variants.py SHARDS ROOT
"""

import os
import sys

from pixelgpt.train.config import load_config
from pixelgpt.train.trainer import train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    shards, root = sys.argv[1:3]
    for variant in ("textgpt", "pixelgpt", "monogpt", "dualgpt"):
        overrides = [
            f"data.shards=[{{path: {shards}}}]",
            f"run_name=ddp-{variant}",
            f"data.cache={root}/cache/{{run_name}}",
            f"output_dir={root}/runs/{{run_name}}",
            "save_folder=null",
            "max_duration=3ba",
            "rollouts=0",
            "logging.tensorboard=false",
        ]
        train(load_config(os.path.join(REPO, "yamls", "tiny", f"{variant}.yaml"), overrides))
