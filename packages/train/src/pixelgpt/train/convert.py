"""pixelgpt-convert: move checkpoints between the paper's released Hub layout and ours.

    pixelgpt-convert import SRC OUT [--renderer-config FILE]   # baidu/PixelGPT-style dir -> our export dir
    pixelgpt-convert export SRC OUT [--format released|llama]  # our export dir -> released or HF Llama dir

Our export dir is what PixelTextGPT.save_pretrained writes (model.safetensors + config.json), plus the
tokenizer files and a renderer_config.json, so that one directory says how to tokenize, render and run.
User errors (a missing directory, missing or mis-shaped tensors, a bad config) end with one line on stderr
and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.model.hf import (
    CheckpointError,
    export_llama,
    load_released,
    model_from_state,
    save_released,
)

PROG = "pixelgpt-convert"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")
RENDERER_FILE = "renderer_config.json"
OUR_FILES = ("config.json", "model.safetensors")
EXIT_USER_ERROR = 2


def _directories(src: str, out: str) -> tuple[Path, Path]:
    src_dir, out_dir = Path(src), Path(out)
    if not src_dir.is_dir():
        raise FileNotFoundError(f"{src_dir}: no such directory")
    if out_dir.resolve() == src_dir.resolve():  # would overwrite the source weights in the other layout
        raise ValueError(f"{out_dir}: OUT must differ from SRC")
    return src_dir, out_dir


def copy_tokenizer(src: Path, out: Path) -> list[str]:
    """Copy whichever tokenizer files SRC holds; return their names."""
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
            copied.append(name)
    return copied


def renderer_config(path: str | None) -> dict:
    """The rendering the checkpoint expects: the paper's, or a checked RendererConfig JSON file."""
    from pixelgpt.renderer import RendererConfig  # imported here: pango loads only for `import`

    if path is None:
        return RendererConfig().to_dict()
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: want a JSON object of RendererConfig fields")
    return RendererConfig.from_dict(data).to_dict()


def load_ours(src: Path) -> PixelTextGPT:
    """Our export dir -> model; names every missing, extra or mis-shaped tensor (not a strict-load dump)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    for name in OUR_FILES:
        if not (src / name).is_file():
            raise FileNotFoundError(f"{src / name}: missing (is SRC a `pixelgpt-convert import` output?)")
    try:
        cfg = ModelConfig.from_dict(json.loads((src / "config.json").read_text()))
        state = load_file(str(src / "model.safetensors"))
    except (json.JSONDecodeError, SafetensorError) as e:
        raise CheckpointError(f"{src}: cannot read ({str(e).splitlines()[0]})") from None
    return model_from_state(state, cfg)


def import_released(src: str, out: str, renderer_config_file: str | None = None) -> str:
    src_dir, out_dir = _directories(src, out)
    model = load_released(src_dir)
    renderer = renderer_config(renderer_config_file)  # checked before anything is written
    model.save_pretrained(out_dir)
    (out_dir / RENDERER_FILE).write_text(json.dumps(renderer, indent=2, sort_keys=True) + "\n")
    copied = copy_tokenizer(src_dir, out_dir)
    return _summary("imported", src_dir, out_dir, model, copied + [RENDERER_FILE])


def export(src: str, out: str, fmt: str = "released") -> str:
    src_dir, out_dir = _directories(src, out)
    model = load_ours(src_dir)
    if fmt == "llama":
        export_llama(model, out_dir)
    else:
        save_released(model, out_dir)
    copied = copy_tokenizer(src_dir, out_dir)
    return _summary(f"exported ({fmt})", src_dir, out_dir, model, copied)


def _summary(verb: str, src: Path, out: Path, model: PixelTextGPT, extra: list[str]) -> str:
    files = f"; also {', '.join(extra)}" if extra else ""
    return f"{verb} {src} -> {out}: {model.num_parameters():,} parameters{files}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Convert checkpoints between the paper's released Hugging Face layout "
        "(baidu/PixelGPT, baidu/MonoGPT, baidu/DualGPT) and pixelgpt's own export directory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    imp = sub.add_parser(
        "import",
        help="released Hub-layout dir -> our export dir",
        description="Read a released checkpoint (config.json + model.safetensors, pytorch_model.bin or a "
        "sharded index) and write our export dir: model.safetensors, config.json, the tokenizer files "
        "found in SRC, and renderer_config.json.",
    )
    imp.add_argument(
        "src", metavar="SRC", help="a downloaded released repo, e.g. a snapshot of baidu/PixelGPT"
    )
    imp.add_argument("out", metavar="OUT", help="directory to write (created if missing)")
    imp.add_argument(
        "--renderer-config",
        metavar="FILE",
        help="JSON of RendererConfig fields to store as renderer_config.json (default: the paper's settings)",
    )
    exp = sub.add_parser(
        "export",
        help="our export dir -> released layout or a Hugging Face Llama dir",
        description="Read our export dir (model.safetensors + config.json) and write it in another "
        "layout, copying the tokenizer files.",
    )
    exp.add_argument("src", metavar="SRC", help="our export dir (written by `import` or save_pretrained)")
    exp.add_argument("out", metavar="OUT", help="directory to write (created if missing)")
    exp.add_argument(
        "--format",
        choices=("released", "llama"),
        default="released",
        help="released: ErniePixelForCausalLM layout, both heads (default); llama: LlamaForCausalLM, "
        "text side only (no patch embedding or pixel head)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "import":
            message = import_released(args.src, args.out, args.renderer_config)
        else:
            message = export(args.src, args.out, args.format)
    except (OSError, ValueError) as e:  # user errors: missing files, bad tensors or configs
        print(f"{PROG}: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
