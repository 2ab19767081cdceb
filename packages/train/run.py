"""Launch a training run: `composer -n N packages/train/run.py yamls/<variant>.yaml [key=value ...]`
(or `python packages/train/run.py ...` for one process). Overrides nest with dots: `optimizer.lr=1e-3`."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    from pixelgpt.train.config import ConfigError, load_config

    try:
        cfg = load_config(argv[0], argv[1:])  # fails fast, before torch/composer are imported
    except (ConfigError, FileNotFoundError) as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    from composer.utils import dist

    from pixelgpt.train.trainer import format_summary, train

    summary = train(cfg)
    if dist.get_global_rank() == 0:
        print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
