"""pixelgpt-render: render text to a PNG: the strip, and below it a scaled-up grid of its patches.

pixelgpt-render "Hello world" -o hello.png
pixelgpt-render --file page.txt -o page.png [--pair "second text"] [--scale 4] [--max-patches 1024]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image, ImageDraw

from pixelgpt.renderer.config import RendererConfig
from pixelgpt.renderer.pictures import strip_image
from pixelgpt.renderer.renderer import Renderer
from pixelgpt.renderer.rendering import Rendering

GRID_LINE = (255, 0, 160)  # patch boundaries, in a colour text never has


def preview(enc: Rendering, scale: int = 4, per_row: int = 32) -> Image.Image:
    """The strip at 1x on top; below, the patches scaled up, per_row to a row, with boundaries drawn."""
    n, p, _, c = enc.patches.shape
    patches = enc.patches if c == 3 else np.repeat(enc.patches, 3, axis=-1)
    strip = Image.fromarray(strip_image(patches))
    rows = -(-n // per_row)
    cell = p * scale + 1
    grid = Image.new("RGB", (min(n, per_row) * cell + 1, rows * cell + 1), (230, 230, 230))
    draw = ImageDraw.Draw(grid)
    for i in range(n):
        x, y = (i % per_row) * cell, (i // per_row) * cell
        draw.rectangle((x, y, x + cell, y + cell), outline=GRID_LINE)
        grid.paste(Image.fromarray(patches[i]).resize((p * scale, p * scale), Image.NEAREST), (x + 1, y + 1))
    out = Image.new("RGB", (max(strip.width, grid.width), p + 8 + grid.height + 14), (255, 255, 255))
    out.paste(strip, (0, 0))
    out.paste(grid, (0, p + 8))
    ImageDraw.Draw(out).text(
        (2, p + 8 + grid.height + 1),
        f"{enc.num_text_patches} text patches + end patch, width {enc.width} px, tofu {enc.tofu}",
        fill=(0, 0, 0),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pixelgpt-render", description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("text", nargs="?", help="the text to render")
    src.add_argument("--file", help="read the text from this UTF-8 file")
    ap.add_argument("-o", "--out", required=True, help="output PNG path")
    ap.add_argument("--pair", help="render (text, PAIR) as a pair with the black separator patch")
    ap.add_argument("--scale", type=int, default=4, help="zoom of the patch grid (default 4)")
    ap.add_argument("--max-patches", type=int, default=RendererConfig.max_patches)
    ap.add_argument("--font-file", help="render with this one font file instead of the pinned Noto set")
    args = ap.parse_args(argv)
    try:
        if args.file is None:
            text = args.text
        else:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
        renderer = Renderer(RendererConfig(max_patches=args.max_patches, font_file=args.font_file))
        enc = renderer.render(text) if args.pair is None else renderer.render_pair(text, args.pair)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"pixelgpt-render: {e}", file=sys.stderr)
        return 2
    preview(enc, scale=args.scale).save(args.out)
    print(
        f"{args.out}: {enc.num_text_patches} text patches + end patch, width {enc.width} px, tofu {enc.tofu}"
    )
    cut = cut_note(renderer.config, enc, pair=args.pair is not None)
    if cut:
        print(cut, file=sys.stderr)
    return 0


def cut_note(config: RendererConfig, enc: Rendering, pair: bool = False) -> str | None:
    """A note when the text did not fit the strip: the strip clips it and the end patch takes the last
    patch."""
    p = config.patch_size
    gaps = 2 + 2 + (p + 2 + 2 if pair else 0)  # the pads (and a pair's separator patch)
    need = -(-(enc.width + gaps) // p) + 1  # text patches + the end patch (at least)
    if need <= config.max_patches:
        return None
    return (
        f"note: the text is {enc.width} px wide and needs {need} patches; the strip holds "
        f"{config.max_patches}, "
        f"so it was cut (the end patch took the last patch): use --max-patches {need} to see all of it"
    )


if __name__ == "__main__":
    sys.exit(main())
