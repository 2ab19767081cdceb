"""Write yamls/finetune/<model>/<task>-<modality>.yaml from the table below (the released fine-tuning scripts'
values): `uv run python yamls/finetune/generate.py`. The yamls are the product; this table is how they are
kept consistent. See README.md for the naming and the conventions.

A row: (per-device batch, GPUs, grad_accum, learning rate, steps[, precision]); a list is the script's grid.
`released` rows are read from the scripts at ernie-research/pixelgpt HEAD
(run/<model>/ft_<model>_<task>_<mod>.sh, run/pixel_gpt/ft_pixel_gpt_<task>.sh, run/cross_lingual/xnli/...,
run/color_image/emohate/...) or from docs/paper-facts.md: Fine-tuning, which transcribe them; `rule` rows
have no script
at HEAD and follow the MonoGPT/DualGPT grid rule the scripts share.
"""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
LR_GRID = [1e-5, 3e-5, 5e-5, 1e-4]
MODEL_DIRS = {"textgpt": "text_gpt", "pixelgpt": "pixel_gpt", "monogpt": "mono_gpt", "dualgpt": "dual_gpt"}

# warmup, evaluation interval (steps) by task size, as every script sets them
SCHEDULE = {
    "mnli": (100, 500), "qqp": (100, 500), "qnli": (100, 250), "sst2": (100, 250),
    "cola": (10, 50), "stsb": (10, 50), "mrpc": (10, 50), "rte": (10, 50), "wnli": (10, 5),
}  # fmt: skip
STEPS = {"mnli": 15000, "qqp": 15000, "qnli": 8000, "sst2": 8000, "wnli": 250}  # others 2000

# (bsz, gpus, grad_accum, lr, steps, precision): GLUE rows read from the scripts / docs/paper-facts.md:
# Fine-tuning
GLUE: dict[tuple[str, str, str], tuple] = {
    # PixelGPT, pixel, 768 patches (docs/paper-facts.md: Fine-tuning table; cola, rte, sst2, stsb scripts
    # read at HEAD)
    ("pixelgpt", "mnli", "pixel"): (8, 8, 1, 5e-5, 15000, "fp32"),
    ("pixelgpt", "qqp", "pixel"): (8, 8, 4, 5e-5, 15000, "fp32"),
    ("pixelgpt", "qnli", "pixel"): (8, 8, 1, [1e-5, 3e-5, 5e-5], 8000, "fp32"),
    ("pixelgpt", "sst2", "pixel"): (4, 8, 1, [1e-5, 3e-5, 5e-5], 8000, "fp32"),
    ("pixelgpt", "cola", "pixel"): (8, 4, 8, 3e-5, 2000, "fp32"),
    ("pixelgpt", "stsb", "pixel"): (4, 8, 8, 5e-5, 500, "fp32"),
    ("pixelgpt", "mrpc", "pixel"): (4, 8, 1, 5e-5, 2000, "fp32"),
    ("pixelgpt", "rte", "pixel"): (8, 4, 1, 3e-5, 2000, "fp32"),
    ("pixelgpt", "wnli", "pixel"): (4, 4, [1, 2, 4, 8], [1e-5, 3e-5, 5e-5], 250, "fp32"),
    # TextGPT, text, 768 tokens (docs/paper-facts.md: Fine-tuning)
    ("textgpt", "mnli", "text"): (8, 8, 1, 3e-5, 15000, "amp_fp16"),
    ("textgpt", "qqp", "text"): (8, 8, 1, 3e-5, 15000, "amp_fp16"),
    ("textgpt", "qnli", "text"): (8, 8, 1, 5e-5, 8000, "fp32"),
    ("textgpt", "sst2", "text"): (8, 8, 1, 3e-5, 8000, "fp32"),
    ("textgpt", "cola", "text"): (8, 4, 1, [1e-5, 3e-5, 5e-5], 2000, "fp32"),
    ("textgpt", "stsb", "text"): (8, 4, 2, 5e-5, 2000, "fp32"),
    ("textgpt", "mrpc", "text"): (8, 4, 1, 5e-5, 2000, "fp32"),
    ("textgpt", "rte", "text"): (8, 4, 2, 1e-5, 2000, "fp32"),
    ("textgpt", "wnli", "text"): (4, 4, 2, 3e-5, 250, "fp32"),
    # MonoGPT: run/mono_gpt/ft_mono_gpt_<task>_<modality>.sh at HEAD
    ("monogpt", "cola", "pixel"): (4, 8, 2, 1e-5, 2000, "fp32"),
    ("monogpt", "cola", "text"): (8, 4, 2, 1e-5, 500, "fp32"),
    ("monogpt", "mnli", "pixel"): (8, 8, 1, 5e-5, 15000, "fp32"),
    ("monogpt", "mnli", "text"): (8, 8, 1, 5e-5, 15000, "fp32"),
    ("monogpt", "mrpc", "text"): (8, 4, 2, 5e-5, 500, "fp32"),
    ("monogpt", "qnli", "pair"): (4, 8, [2, 4, 8, 16], LR_GRID, 8000, "amp_fp16"),
    ("monogpt", "qnli", "pixel"): (8, 8, 4, 1e-5, 8000, "fp32"),
    ("monogpt", "qnli", "text"): (8, 8, 1, 5e-5, 8000, "fp32"),
    ("monogpt", "qqp", "pixel"): (8, 8, 4, 3e-5, 15000, "fp32"),
    ("monogpt", "rte", "pixel"): (8, 4, 2, 3e-5, 500, "fp32"),
    ("monogpt", "rte", "text"): (4, 8, 1, 5e-5, 2000, "fp32"),
    ("monogpt", "sst2", "pair"): (4, 8, [2, 4, 8, 16], LR_GRID, 8000, "amp_fp16"),
    ("monogpt", "sst2", "pixel"): (8, 8, 4, 5e-5, 8000, "fp32"),
    ("monogpt", "sst2", "text"): (8, 8, 4, 5e-5, 8000, "fp32"),
    ("monogpt", "stsb", "text"): (4, 8, 1, 5e-5, 2000, "fp32"),
    ("monogpt", "wnli", "pair"): (4, 8, [1, 2, 4, 8, 16], LR_GRID, 250, "fp32"),
    # DualGPT: run/dual_gpt/ft_dual_gpt_<task>_<modality>.sh at HEAD; pixel MNLI/QQP from
    # docs/paper-facts.md: Fine-tuning
    ("dualgpt", "cola", "text"): (8, 8, 8, 3e-5, 500, "fp32"),
    ("dualgpt", "mnli", "pair"): (8, 8, [1, 2, 4, 8], LR_GRID, 15000, "amp_bf16"),
    ("dualgpt", "mnli", "text"): (8, 8, 1, 5e-5, 8000, "fp32"),
    ("dualgpt", "mnli", "pixel"): (8, 8, [4, 8], LR_GRID, 15000, "fp32"),
    ("dualgpt", "qqp", "pixel"): (8, 8, 4, 5e-5, 15000, "fp32"),
    ("dualgpt", "mrpc", "pair"): (4, 8, [1, 2, 4, 8, 16], LR_GRID, 2000, "fp32"),
    ("dualgpt", "mrpc", "pixel"): (8, 4, 2, 5e-5, 250, "fp32"),
    ("dualgpt", "qnli", "text"): (8, 8, 1, 5e-5, 8000, "fp32"),
    ("dualgpt", "rte", "pair"): (4, 8, [1, 2, 4, 8, 16], LR_GRID, 2000, "fp32"),
    ("dualgpt", "rte", "pixel"): (8, 4, 2, 1e-5, 250, "fp32"),
    ("dualgpt", "rte", "text"): (8, 4, 1, 5e-5, 500, "fp32"),
    ("dualgpt", "sst2", "pixel"): (8, 8, 4, 5e-5, 8000, "fp32"),
    ("dualgpt", "stsb", "pair"): (4, 8, [1, 2, 4, 8, 16], LR_GRID, 2000, "fp32"),
    ("dualgpt", "stsb", "pixel"): (8, 4, 2, 5e-5, 2000, "fp32"),
    ("dualgpt", "stsb", "text"): (8, 8, 1, 3e-5, 2000, "fp32"),
    ("dualgpt", "wnli", "pixel"): (4, 4, [1, 2, 4, 8], [1e-5, 3e-5, 5e-5], 250, "fp32"),
}
GLUE_TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli")
TITLES = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "qqp": "QQP", "stsb": "STS-B", "mnli": "MNLI",
          "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}  # fmt: skip
MODALITIES = {"textgpt": ("text",), "pixelgpt": ("pixel",), "monogpt": ("text", "pixel", "pair"),
              "dualgpt": ("text", "pixel", "pair")}  # fmt: skip


def grid_rule(model: str, task: str, modality: str) -> tuple:
    """docs/paper-facts.md: Fine-tuning's MonoGPT/DualGPT grid for a combination without a script at HEAD:
    LR {1e-5..1e-4} x
    grad_accum {1,2,4,8} (MNLI/QQP, DualGPT QNLI/SST-2; per-device 8), {2,4,8,16} (MonoGPT QNLI/SST-2,
    per-device 4, fp16), {1,2,4,8,16} (the small tasks, per-device 4); 8 GPUs; pair MNLI/QQP in bf16."""
    if task in ("mnli", "qqp"):
        bsz, gas, prec = 8, [1, 2, 4, 8], "amp_bf16" if modality == "pair" else "fp32"
    elif task in ("qnli", "sst2"):
        bsz, gas, prec = (8, [1, 2, 4, 8], "fp32") if model == "dualgpt" else (4, [2, 4, 8, 16], "amp_fp16")
    else:
        bsz, gas, prec = 4, [1, 2, 4, 8, 16], "fp32"
    return (bsz, 8, gas, LR_GRID, STEPS.get(task, 2000), prec)


def script_name(model: str, task: str, modality: str) -> str:
    folder = MODEL_DIRS[model]
    if model == "pixelgpt":
        return f"run/{folder}/ft_{folder}_{task}.sh"
    if model == "textgpt":
        return f"run/{folder}/ft_{folder}_{task}.sh (docs/paper-facts.md: Fine-tuning)"
    return f"run/{folder}/ft_{folder}_{task}_{modality}.sh"


def yaml_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.1e}".replace("e-0", "e-")
    if isinstance(v, list):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render(spec: dict) -> str:
    """One yaml file: a comment block, then the keys in a fixed order."""
    bsz, gpus, ga, lr, n_steps, prec = spec["row"]
    first_ga = ga[0] if isinstance(ga, list) else ga
    first_lr = lr[0] if isinstance(lr, list) else lr
    lines = [
        f"# {spec['model']} on {spec['title']}, {spec['modality']} input. Released: {spec['source']}",
        f"#   {gpus} GPUs x per-device {bsz} x grad_accum {yaml_value(ga)}; lr {yaml_value(lr)}; "
        f"{n_steps} steps; {prec}; seed 42.",
        "# Needs init_from=<export dir> (and data.path=... unless the data sits at the path below).",
    ]
    if isinstance(ga, list) or isinstance(lr, list):
        lines.append(
            "# A grid in the released script: run.py trains its first point; the sweep runs all of it:"
        )
        lines.append(f"#   python -m pixelgpt.finetune.sweep {spec['file']} init_from=...")
    lines += [
        f"task: {spec['task']}",
        f"modality: {spec['modality']}",
        f"model: {spec['model']}",
        f'source: "{spec["source"]}"',
        "init_from: null",
        "data:",
        f"  path: {spec['data']}",
    ]
    if spec.get("languages"):
        lines.append(
            f"  train_languages: {yaml_value(spec['languages'])}   # English only (zero-shot transfer)"
        )
    if spec["modality"] != "text":
        lines.append(f"max_patches: {spec['length']}")
    if spec["modality"] != "pixel":
        lines.append(f"max_tokens: {spec.get('tokens', spec['length'])}")
    if spec.get("render_mode", "rgb") != "rgb":
        lines.append(f"render_mode: {spec['render_mode']}")
    warmup, every = spec["schedule"]
    lines += [
        f"batch_size: {bsz * gpus}   # per-device {bsz} x {gpus} GPUs",
        f"grad_accum: {first_ga}",
        f"eval_batch_size: {spec.get('eval_batch_size', 8)}",
        f"max_duration: {n_steps}ba",
        f"warmup: {warmup}ba",
        f"eval_interval: {every}ba",
        f"early_stopping: {yaml_value(spec.get('early_stopping', True))}",
        "patience: 8",
        "seed: 42",
        "device: gpu",
        f"precision: {prec}",
        "optimizer:",
        f"  lr: {yaml_value(first_lr)}",
        "  betas: [0.9, 0.999]",
        "  eps: 1.0e-8",
        "  weight_decay: 0.0",
        "  grad_clip: 1.0",
    ]
    if isinstance(ga, list) or isinstance(lr, list):
        lines.append("sweep:")
        lines.append(f"  lr: {yaml_value(lr if isinstance(lr, list) else [lr])}")
        lines.append(f"  grad_accum: {yaml_value(ga if isinstance(ga, list) else [ga])}")
        lines.append("  seed: [42]")
    return "\n".join(lines) + "\n"


def glue_specs() -> list[dict]:
    specs = []
    for model, modalities in MODALITIES.items():
        for task in GLUE_TASKS:
            for modality in modalities:
                row = GLUE.get((model, task, modality))
                source = script_name(model, task, modality)
                if row is None:
                    row = grid_rule(model, task, modality)
                    source = f"none at HEAD for this combination; the released grid rule ({source} absent)"
                specs.append({
                    "model": model, "task": task, "title": TITLES[task], "modality": modality, "row": row,
                    "source": source, "data": "data/glue", "length": 512 if modality == "pair" else 768,
                    "schedule": SCHEDULE[task], "file": f"yamls/finetune/{model}/{task}-{modality}.yaml",
                })  # fmt: skip
    return specs


def xnli_specs() -> list[dict]:
    """docs/paper-facts.md: Fine-tuning: pixel 256 patches, GA {4,8} x LR grid, 15000 steps (pair 30000, 256
    + 256 tokens),
    warmup 100, eval every 500, patience 8, bf16 (PixelGPT; pair) / fp16 (Mono/Dual pixel); text 768 tokens
    (TextGPT English-only: 256), 8 x 8, GA 1, 5e-5, 30000 (TextGPT) / 15000 steps, no early stopping, fp16."""
    specs = []
    for model, modalities in MODALITIES.items():
        for modality in modalities:
            for setting, langs in (("xnli", None), ("xnli_en", ["en"])):
                folder = MODEL_DIRS[model]
                where = "train_all" if langs is None else "train_en"
                source = f"run/cross_lingual/xnli/{where}/{folder}/ft_{folder}_xnli*.sh"
                early, length = True, 256
                if modality == "text":
                    steps = 30000 if model == "textgpt" else 15000
                    row, early = (8, 8, 1, 5e-5, steps, "amp_fp16"), False
                    length = 256 if (model == "textgpt" and langs) else 768
                elif modality == "pixel":
                    row = (8, 8, [4, 8], LR_GRID, 15000, "amp_bf16" if model == "pixelgpt" else "amp_fp16")
                else:
                    row = (8, 8, [4, 8], LR_GRID, 30000, "amp_bf16")
                title = "XNLI translate-train-all" if langs is None else "XNLI English-only (transfer)"
                specs.append({
                    "model": model, "task": "xnli", "title": title, "modality": modality, "row": row,
                    "source": source, "data": "data/xnli", "length": length, "schedule": (100, 500),
                    "early_stopping": early, "languages": langs,
                    "file": f"yamls/finetune/{model}/{setting}-{modality}.yaml", "name": setting,
                })  # fmt: skip
    return specs


def hatemoji_specs() -> list[dict]:
    """run/color_image/emohate/ernie-pixel-only/ft_ernie-pixel-only_emohate.sh: 4 GPUs x 8, GA 1, lr 7e-6,
    15000 steps, warmup 100, eval every 500, patience 8, 768 patches; render mode rgb or gray."""
    source = "run/color_image/emohate/ernie-pixel-only/ft_ernie-pixel-only_emohate.sh"
    out = []
    for name, mode in (("hatemoji", "rgb"), ("hatemoji_gray", "gray")):
        out.append({
            "model": "pixelgpt", "task": "hatemoji", "title": f"HatemojiBuild ({mode})", "modality": "pixel",
            "row": (8, 4, 1, 7e-6, 15000, "fp32"), "source": source, "data": "data/hatemoji", "length": 768,
            "schedule": (100, 500), "render_mode": mode, "file": f"yamls/finetune/pixelgpt/{name}-pixel.yaml",
            "name": name,
        })  # fmt: skip
    return out


def main() -> None:
    specs = glue_specs() + xnli_specs() + hatemoji_specs()
    for spec in specs:
        path = os.path.join(os.path.dirname(HERE), "..", spec["file"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(render(spec))
    print(f"wrote {len(specs)} yamls")


if __name__ == "__main__":
    main()
