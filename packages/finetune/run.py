"""Fine-tune a pretrained export on one task:

    python packages/finetune/run.py yamls/finetune/<model>/<task>-<modality>.yaml init_from=EXPORT_DIR \
        data.path=DATA_DIR [key=value ...]
    composer -n 8 packages/finetune/run.py ...   (a process per accelerator; fsdp.enabled=true optional)

Overrides nest with dots (`optimizer.lr=3e-5`, `data.num_workers=4`); common ones: modality (text | pixel |
pair), init_from, data.path, max_duration, device (cpu | gpu), precision, output_dir, render_mode. A `sweep:`
section in the yaml is ignored here: `python -m pixelgpt.finetune.sweep` runs the grid. Writes
<output_dir>/metrics.json.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    from pixelgpt.finetune.config import ConfigError, load_config

    try:
        cfg = load_config(argv[0], argv[1:])  # fails fast, before torch/composer are imported
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    from pixelgpt.finetune.tasks import FinetuneError
    from pixelgpt.finetune.trainer import finetune

    try:
        finetune(cfg)
    except (ConfigError, FinetuneError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
