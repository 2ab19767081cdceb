"""Launched by test_finetune_train.py as `composer -n 2 tests/finetune/fsdp_launch.py CONFIG [key=value ...]`:
one fine-tuning run whose evaluation turns to wrong labels after step 2 (WrongLabelsAfter), so the weights the
run selects are not its last ones."""

import sys

from test_finetune_train import WrongLabelsAfter

from pixelgpt.finetune.config import load_config
from pixelgpt.finetune.trainer import finetune

if __name__ == "__main__":
    finetune(load_config(sys.argv[1], sys.argv[2:]), callbacks=[WrongLabelsAfter(after=2)])
