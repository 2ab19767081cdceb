"""Render corpora to MDS shards with Ray.

    python pipelines/render_corpus.py --input pes2o='data/pes2o/*.json.gz' --output s3://bucket/shards
    python pipelines/render_corpus.py --config job.yaml --workers 8
    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python pipelines/render_corpus.py --config job.yaml

A config file (YAML, the keys of pixelgpt.dataset.job.JobConfig) can hold everything; flags override it.
Without a cluster address (--ray-address or $RAY_ADDRESS, which `ray job submit` sets) Ray runs in-process.
"""

from __future__ import annotations

import argparse
import sys

from pixelgpt.dataset.job import ConfigError, JobConfig, ray_env_defaults, run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML file with JobConfig keys")
    p.add_argument("--input", action="append", default=[], metavar="SOURCE=GLOB", help="repeatable")
    p.add_argument("--output", help="folder or s3://bucket/prefix")
    p.add_argument("--tokenizer", help="'byte' or a tokenizer.json")
    p.add_argument("--max-patches", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--files-per-partition", type=int)
    p.add_argument("--size-limit")
    p.add_argument("--ray-address")
    p.add_argument("--quiet", action="store_true", help="no line per partition")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> JobConfig:
    data: dict = {}
    if args.config:
        import yaml

        with open(args.config) as f:
            data = yaml.safe_load(f) or {}
    if args.input:
        inputs: dict[str, list[str]] = {}
        for item in args.input:
            source, sep, pattern = item.partition("=")
            if not sep or not source or not pattern:
                raise ConfigError(f"--input: want SOURCE=GLOB, got {item!r}")
            inputs.setdefault(source, []).append(pattern)
        data["inputs"] = inputs
    flags = {
        "output": args.output,
        "tokenizer": args.tokenizer,
        "max_patches": args.max_patches,
        "workers": args.workers,
        "files_per_partition": args.files_per_partition,
        "size_limit": args.size_limit,
        "ray_address": args.ray_address,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.quiet:
        data["progress"] = False
    return JobConfig.from_dict(data)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = build_config(args)
    except (ConfigError, OSError) as e:
        print(f"render_corpus: {e}", file=sys.stderr)
        return 2
    ray_env_defaults()
    try:
        summary = run(cfg)
    except FileNotFoundError as e:
        print(f"render_corpus: {e}", file=sys.stderr)
        return 2
    if not cfg.progress:  # with progress on, run() has printed it already
        print(summary.format())
    return 0 if summary.complete else 1


if __name__ == "__main__":
    sys.exit(main())
