"""Launch a training run: `composer -n N packages/train/run.py yamls/<variant>.yaml [key=value ...]`
(or `python packages/train/run.py ...` / `pixelgpt-train ...` for one process). `--help` lists every key."""

from __future__ import annotations

import sys

from pixelgpt.train.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
