"""`pixelgpt-generate EXPORT --prompt TEXT`: what a trained model makes of a prompt.

    pixelgpt-generate runs/tiny-dualgpt/export --prompt "The river" --max-new-tokens 40 --out gen/
    pixelgpt-generate runs/tiny-pixelgpt/export --prompt "The river" --patches 24 --out gen/

Text models continue the prompt's tokens (greedy, or sampled with --temperature/--top-k and --seed) and print
the continuation; pixel models render the prompt with the export's renderer config and roll out next patches
one at a time, written as a labelled PNG (prompt | prediction); a model trained on both does both (--mode).
"""

from __future__ import annotations

import argparse
import os
import sys

MODES = ("auto", "text", "pixel", "both")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="pixelgpt-generate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("export", help="an export directory (a run's export/, or one written by pixelgpt-convert)")
    p.add_argument("--prompt", required=True, help="the text to continue")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="text continuation, pixel rollout or both; auto: what the model was trained on (both when the "
        "export does not say)",
    )
    p.add_argument("--max-new-tokens", type=int, default=40, help="tokens to generate (40)")
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy (default); > 0: sampling")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    p.add_argument("--seed", type=int, default=0, help="random seed for sampling (0)")
    p.add_argument("--patches", type=int, default=16, help="patches to roll out (16)")
    p.add_argument("--out", default="generated", help="folder for the rollout PNG (generated/)")
    return p.parse_args(argv)


def continue_text(model, tokenizer, prompt: str, n: int, temperature: float, top_k: int, seed: int) -> str:
    """The prompt's tokens (with BOS, as in training) extended by n tokens; returns the decoded new text."""
    import torch

    ids, _ = tokenizer.encode(prompt)
    x = torch.as_tensor(ids, dtype=torch.long)[None]
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(n):
            logits = model(input_ids=x).token_logits[0, -1].float()
            if temperature <= 0:
                nxt = int(logits.argmax())
            else:
                if top_k > 0:
                    cut = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                    logits = logits.masked_fill(logits < cut, float("-inf"))
                nxt = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=g))
            if tokenizer.eos_id is not None and nxt == tokenizer.eos_id:
                break
            x = torch.cat([x, torch.tensor([[nxt]])], dim=1)
    return tokenizer.decode(x[0, len(ids) :].tolist())


def roll_out(model, renderer_config, prompt: str, k: int, path: str) -> str:
    """Render the prompt (its text patches, without the end patch), roll out k patches, draw them."""
    import torch

    from pixelgpt.model import generate_patches
    from pixelgpt.renderer import Renderer
    from pixelgpt.train.report import draw_rollout

    enc = Renderer(renderer_config).render(prompt)
    context = enc.patches[: max(1, enc.num_text_patches)]
    if context.shape[-1] == 1:
        context = context.repeat(3, axis=-1)
    predicted = generate_patches(model, torch.from_numpy(context.copy()), k).numpy()
    return draw_rollout(context, predicted, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pixelgpt.dataset.tokenizers import TokenizerError
    from pixelgpt.train.export import read_export

    try:
        export = read_export(args.export)
    except (FileNotFoundError, TokenizerError, ValueError) as e:
        print(f"pixelgpt-generate: {e}", file=sys.stderr)
        return 2
    model = export.model.eval()
    mode = args.mode
    if mode == "auto":
        trained = set(export.training.get("modalities", ("text", "image")))
        text, pixel = bool(trained & {"text", "pair"}), bool(trained & {"image", "pair"})
        mode = "both" if text and pixel else ("text" if text else "pixel")
    if mode in ("text", "both"):
        new = continue_text(
            model, export.tokenizer, args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.seed
        )
        print(f"{args.prompt}\u2192{new}")
    if mode in ("pixel", "both"):
        os.makedirs(args.out, exist_ok=True)
        path = roll_out(
            model, export.renderer_config, args.prompt, args.patches, os.path.join(args.out, "rollout.png")
        )
        print(f"rollout: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
