"""pixelgpt.finetune: fine-tuning and evaluation of pretrained variants (GLUE, XNLI, HatemojiBuild)."""
