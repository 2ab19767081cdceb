"""Render corpora to MDS shards with Ray.

examples:
  python pipelines/render_corpus.py --input pes2o='data/pes2o/*.json.gz' --output s3://bucket/shards
  python pipelines/render_corpus.py --config job.yaml --workers 8
  python pipelines/render_corpus.py --config job.yaml --heldout 0.01 --split heldout --output shards-heldout
  ray job submit --address http://HEAD:8265 --working-dir . -- \\
      python pipelines/render_corpus.py --config job.yaml --output s3://bucket/shards

A config file (YAML with the keys of pixelgpt.dataset.job_config.JobConfig) can hold everything; flags
override it. Without a cluster address (--ray-address, or $RAY_ADDRESS, which `ray job submit` sets) Ray runs
in this process. Under `ray job submit` the job runs in Ray's copy of the working folder, so a local --output
must be absolute (or s3://). Re-running a stopped job renders only the partitions that are not complete.
"""

from __future__ import annotations

import argparse
import os
import sys

from pixelgpt.dataset.job import ConfigError, JobConfig, JobError, run
from pixelgpt.dataset.job_config import read_yaml


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="FILE", help="YAML file with JobConfig keys (flags override it)")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="SOURCE=GLOB",
        help="a source (pes2o, wikipedia, c4, the-stack, or one declared under `generic:` in the config) "
        "and a local or s3:// glob of its files; repeatable",
    )
    p.add_argument("--output", metavar="DIR|URI", help="folder or s3://bucket/prefix of the shard set")
    p.add_argument(
        "--tokenizer",
        metavar="SPEC",
        help="'byte' (default), a SentencePiece tokenizer.model, a tokenizer.json, or a directory holding "
        "them as Hub repos ship them (its tokenizer_config.json sets BOS/EOS)",
    )
    p.add_argument(
        "--max-patches", type=int, metavar="N", help="patches per strip, end patch included (1024)"
    )
    p.add_argument("--max-tokens", type=int, metavar="N", help="tokens per chunk, BOS included (1024)")
    p.add_argument("--workers", type=int, metavar="N", help="renderer actors, one CPU each (2)")
    p.add_argument("--files-per-partition", type=int, metavar="N", help="input files per partition (1)")
    p.add_argument("--size-limit", metavar="BYTES", help="uncompressed bytes per shard file (64mb)")
    p.add_argument(
        "--heldout",
        type=float,
        metavar="F",
        help="hold out this fraction of the documents (by a hash of source and id; 0: none): render the "
        "corpus twice, --split train and --split heldout, into two outputs",
    )
    p.add_argument("--split", choices=("train", "heldout"), help="the split this job renders (train)")
    p.add_argument("--ray-address", metavar="ADDR", help="a Ray cluster to use instead of an in-process Ray")
    p.add_argument("--quiet", action="store_true", help="no progress and no line per partition")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> JobConfig:
    data: dict = {}
    if args.config:
        data = read_yaml(args.config)
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
        "max_tokens": args.max_tokens,
        "workers": args.workers,
        "files_per_partition": args.files_per_partition,
        "size_limit": args.size_limit,
        "heldout": args.heldout,
        "split": args.split,
        "ray_address": args.ray_address,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.quiet:
        data["progress"] = False
    return JobConfig.from_dict(resolve_output(data))


def under_ray_job() -> bool:
    """`ray job submit --working-dir` runs the driver inside Ray's unpacked copy of the working folder."""
    return "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ or "working_dir_files" in os.getcwd().split(os.sep)


def resolve_output(data: dict) -> dict:
    """A relative local output becomes absolute here, before any work; under `ray job submit` it would land in
    Ray's temporary copy of the working folder (deleted with the job), so it is refused."""
    out = data.get("output")
    if isinstance(out, str) and out and "://" not in out and not os.path.isabs(out):
        if under_ray_job():
            raise ConfigError(
                f"output: {out!r} is relative, and this job runs in Ray's temporary copy of the working "
                "folder; "
                "give an absolute path or an s3:// URI"
            )
        data = {**data, "output": os.path.abspath(out)}
    return data


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = build_config(args)
        summary = run(cfg)
    except (ConfigError, FileNotFoundError, JobError) as e:
        print(f"render_corpus: {e}", file=sys.stderr)
        return 2
    if not cfg.progress:  # with progress on, run() has printed it already
        print(summary.format())
    return 0 if summary.complete else 1


if __name__ == "__main__":
    sys.exit(main())
