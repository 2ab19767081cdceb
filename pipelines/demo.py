"""`make demo`: the whole system on the embedded sample corpus, on a CPU, in a few minutes.

    sample corpus (peS2o, Wikipedia, C4, The Stack files) -> shards (the Ray render job, in-process Ray)
    -> 40 steps of each tiny variant (TextGPT, PixelGPT, MonoGPT, DualGPT) with the Composer trainer
    -> a table of first/last losses per modality, and the PNGs (strips, loss curves, next-patch rollouts)
    -> fine-tuning on the synthetic tiny task: text from TextGPT, pixels from PixelGPT, pairs from DualGPT

    uv run python pipelines/demo.py [--out out/demo] [--variants textgpt,pixelgpt,monogpt,dualgpt]

Re-running reuses complete shard partitions (the job skips them) and retrains from scratch. Exits non-zero if
a loss did not fall or a fine-tuned variant is not clearly above chance.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = ("textgpt", "pixelgpt", "monogpt", "dualgpt")


def render_shards(out: str) -> str:
    from pixelgpt.dataset.job import JobConfig, run
    from pixelgpt.dataset.samples import sample_inputs

    shards = os.path.join(out, "shards")
    # the tiny yamls' rows: strips of up to 96 patches, chunks of up to 256 byte tokens (BOS included)
    summary = run(JobConfig(inputs=sample_inputs(), output=shards, max_patches=96, max_tokens=256, workers=2))
    if not summary.complete:
        raise SystemExit(f"render job did not complete: {summary}")
    return shards


def show_strips(shards: str, out: str) -> str:
    """A few shard samples as PNG strips with token boundaries, through the inspect CLI a user would run."""
    png_dir = os.path.join(out, "strips")
    cmd = [
        sys.executable,
        "-m",
        "pixelgpt.dataset.shard_inspect",
        "inspect",
        shards,
        "--show",
        "4",
        "--out",
        png_dir,
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return png_dir


def train_variant(variant: str, shards: str, out: str) -> dict:
    from pixelgpt.train.config import load_config
    from pixelgpt.train.trainer import train

    run_dir = os.path.join(out, "runs", variant)
    shutil.rmtree(run_dir, ignore_errors=True)  # a demo starts fresh (autoresume would find the last run)
    cfg = load_config(
        os.path.join(REPO, "yamls", "tiny", f"{variant}.yaml"),
        [
            f"data.shards=[{{path: {os.path.abspath(shards)}}}]",
            f"run_name=demo-{variant}",
            f"output_dir={run_dir}",
            f"save_folder={run_dir}/checkpoints",
            f"data.cache={os.path.join(out, 'cache', variant)}",
            "max_duration=40ba",
            "logging.console_interval=10ba",
        ],
    )
    return train(cfg)


# Fine-tuning: which pretrained variant each modality is fine-tuned from (the first one trained in this demo)
FINETUNE_FROM = (("text", ("textgpt", "dualgpt", "monogpt")), ("pixel", ("pixelgpt", "dualgpt", "monogpt")),
                 ("pair", ("dualgpt", "monogpt")))  # fmt: skip
CLEAR_MARGIN = 0.1  # "clearly above chance": validation accuracy >= 0.5 + this (200 balanced examples)


def finetune_variants(out: str, variants: list[str]) -> bool:
    """Fine-tune the tiny pretrained variants on the tiny task (pixelgpt.finetune.tiny_task): text from
    TextGPT, pixels from PixelGPT, pairs from DualGPT (else the next trained variant of FINETUNE_FROM); print
    the report table. False when a run's validation accuracy is not clearly above chance."""
    from pixelgpt.finetune import report
    from pixelgpt.finetune.config import load_config
    from pixelgpt.finetune.published import load_published
    from pixelgpt.finetune.tiny_task import write_tiny_task
    from pixelgpt.finetune.trainer import finetune

    data = os.path.join(out, "tiny_task")
    write_tiny_task(data)
    runs_dir = os.path.join(out, "finetune")
    shutil.rmtree(runs_dir, ignore_errors=True)
    results = []
    for modality, candidates in FINETUNE_FROM:
        variant = next((v for v in candidates if v in variants), None)
        if variant is None:
            print(f"{modality}: no variant to fine-tune from (needs one of {', '.join(candidates)})")
            continue
        print(f"\n-- fine-tune {variant} on the tiny task, {modality} input", flush=True)
        cfg = load_config(
            os.path.join(REPO, "yamls", "finetune", "tiny", f"tiny-{modality}.yaml"),
            [
                f"init_from={os.path.join(out, 'runs', variant, 'export')}",
                f"data.path={data}",
                f"model={variant}",
                f"output_dir={os.path.join(runs_dir, f'{variant}-{modality}')}",
            ],
        )
        results.append(finetune(cfg))
    runs, _ = report.find_runs(runs_dir)
    table = report.build_table(report.select_best(runs), load_published())
    print("\n" + "\n".join(report.main_table_markdown(table)))
    ok = True
    for r in results:
        acc = r["validation"]["validation"]["accuracy"]
        clear = acc >= 0.5 + CLEAR_MARGIN
        ok &= clear
        print(f"{r['model']} {r['modality']}: validation accuracy {acc:.3f} (best step {r['best_step']}) "
              f"{'clearly above chance' if clear else 'NOT clearly above chance (0.5)'}")  # fmt: skip
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO, "out", "demo"))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"--variants: unknown variant {v!r}; choose from {', '.join(VARIANTS)}")

    t0 = time.perf_counter()
    print("== 1/3 render the sample corpus to shards (Ray job)", flush=True)
    shards = render_shards(args.out)
    print("\n== 2/3 look at a few shard samples", flush=True)
    strips = show_strips(shards, args.out)
    print(f"strips: {strips}")

    print("\n== 3/3 train each tiny variant", flush=True)
    summaries = {v: train_variant(v, shards, args.out) for v in variants}

    print(f"\n== demo done in {time.perf_counter() - t0:.0f} s\n")
    print("| variant | modality | micro-batches | first loss | last loss | fell |")
    print("|---|---|---:|---:|---:|---|")
    ok = True
    for v, s in summaries.items():
        for modality, L in sorted(s["losses"].items()):
            fell = L["last_mean"] < L["first_mean"]
            ok &= fell
            print(
                f"| {v} | {modality} | {L['count']} | {L['first_mean']:.3f} | {L['last_mean']:.3f} | "
                f"{'yes' if fell else 'NO'} |"
            )
    print("\n(first/last = mean of the first/last 5 micro-batches of that modality)\n")
    for v, s in summaries.items():
        print(f"{v}: loss curves {s['loss_png']}")
        for p in s.get("rollout_pngs", []):
            print(f"{v}: next-patch rollout {p}")
        print(f"{v}: weights {s['export_dir']}")

    print("\n== fine-tune the tiny variants on the tiny task", flush=True)
    ok &= finetune_variants(args.out, variants)
    print(f"\n== demo and fine-tuning done in {time.perf_counter() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
