"""JobConfig: what the render job renders, where to, and how; checked in the driver before any work starts.

    cfg = JobConfig.from_yaml("job.yaml")          # or JobConfig.from_dict({...}) / JobConfig(...)
    cfg.validate()                                 # keys, types, ranges, the tokenizer, the renderer settings
    cfg.check_output()                             # the output is a writable folder / an existing bucket

Every user error is a ConfigError whose message names the key (or the file), found on the driver, not after
minutes on the workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from pixelgpt.config import ConfigError, from_dict
from pixelgpt.dataset import schema, storage
from pixelgpt.dataset.sources import BUILTIN, SourceSpec


def read_yaml(path: str) -> dict[str, Any]:
    """A YAML mapping from a file; unreadable files and invalid YAML are ConfigErrors naming the file."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML ({' '.join(str(e).split())})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys")
    return data


@dataclass
class JobConfig:
    inputs: dict[str, list[str]]  # source -> local globs / s3:// URIs
    output: str  # local folder or s3://bucket/prefix
    tokenizer: str = "byte"  # "byte", a tokenizer.model / tokenizer.json, or a directory holding them
    max_patches: int = 1024  # strip budget, end patch included
    max_tokens: int = 1024  # token budget of a chunk, special tokens included (the trainer's token row)
    renderer: dict[str, Any] = field(default_factory=dict)  # extra RendererConfig fields
    workers: int = 2  # renderer actors (one CPU each)
    files_per_partition: int = 1
    size_limit: int | str = schema.SIZE_LIMIT  # uncompressed bytes per shard
    compression: str = schema.COMPRESSION
    staging: str | None = None  # local staging folder for s3:// output (default: the temp dir)
    langs: list[str] | None = None  # keep only these values of a source's lang field (The Stack)
    generic: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {format, text_field, id_field}
    max_doc_chars: int = 2_000_000  # longer documents are rejected ("too long"), never hang the job
    max_retries: int = 2  # extra attempts for a partition whose worker died or lost its connection
    ray_address: str | None = None  # None: $RAY_ADDRESS (ray job submit) or an in-process Ray
    progress: bool = True  # progress while rendering, a line per finished partition, the summary
    stop_after: int | None = None  # render at most this many partitions, then stop without merging
    heldout: float = 0.0  # this fraction of the documents (by a hash of source and id) is the held-out split
    split: Literal["train", "heldout"] = "train"  # the split this job renders (with heldout > 0)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobConfig:
        cfg = from_dict(cls, data)
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path: str) -> JobConfig:
        return cls.from_dict(read_yaml(path))

    def source_spec(self, source: str) -> SourceSpec:
        if source in self.generic:
            g = dict(self.generic[source])
            return SourceSpec(g.pop("format", "jsonl"), g.pop("text_field", "text"), g.pop("id_field", None))
        return BUILTIN[source]

    def validate(self) -> None:
        if not isinstance(self.inputs, dict) or not self.inputs:
            raise ConfigError("inputs: need at least one source -> [paths]")
        for source, paths in self.inputs.items():
            if source not in BUILTIN and source not in self.generic:
                raise ConfigError(
                    f"inputs.{source}: unknown source; use one of {sorted(BUILTIN)} or declare it in generic"
                )
            if isinstance(paths, str) or not paths:
                raise ConfigError(f"inputs.{source}: want a non-empty list of paths/globs")
        for name, g in self.generic.items():
            bad = set(g) - {"format", "text_field", "id_field"}
            if bad:
                raise ConfigError(f"generic.{name}: unknown key(s) {sorted(bad)}")
            if g.get("format", "jsonl") not in ("jsonl", "parquet"):
                raise ConfigError(
                    f"generic.{name}.format: want 'jsonl' or 'parquet', got {g.get('format')!r}"
                )
        if not isinstance(self.output, str) or not self.output:
            raise ConfigError("output: want a folder or s3://bucket/prefix")
        if storage.is_fsspec(self.output):
            raise ConfigError(
                f"output: {self.output!r}: shard sets go to a local folder or s3://bucket/prefix"
            )
        for key, low in (
            ("max_patches", 2),
            ("max_tokens", 1),
            ("workers", 1),
            ("files_per_partition", 1),
            ("max_doc_chars", 1),
        ):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{key}: want an integer >= {low}, got {value!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"max_retries: want an integer >= 0, got {self.max_retries!r}")
        if not 0 <= self.heldout < 1:
            raise ConfigError(f"heldout: want a fraction of the documents in [0, 1), got {self.heldout!r}")
        if self.split == "heldout" and not self.heldout:
            raise ConfigError("split: 'heldout' needs heldout > 0 (the fraction of documents held out)")
        if not str(self.compression).startswith(("zstd", "gz", "br", "bz2", "snappy")):
            raise ConfigError(f"compression: unsupported {self.compression!r}")
        self.renderer_config()
        self.load_tokenizer()

    def renderer_config(self):
        from pixelgpt.renderer import RendererConfig

        try:
            return RendererConfig(**{**self.renderer, "max_patches": self.max_patches})
        except TypeError as e:
            raise ConfigError(f"renderer: {e}") from None
        except ConfigError as e:  # e.g. max_patches beyond what a cairo surface can hold
            raise ConfigError(str(e).replace("RendererConfig.", "renderer.")) from None

    def load_tokenizer(self):
        from pixelgpt.dataset.tokenizers import TokenizerError, load_tokenizer

        try:
            return load_tokenizer(self.tokenizer)
        except (FileNotFoundError, TokenizerError) as e:
            raise ConfigError(str(e)) from None

    def check_output(self) -> None:
        """The output can be written: a local folder (not a file, writable) or an existing bucket."""
        if storage.is_remote(self.output):
            bucket, _ = storage.split_s3(self.output)
            try:
                storage.s3_client().head_bucket(Bucket=bucket)
            except Exception as e:  # botocore: NoSuchBucket, 403, no endpoint, no credentials
                raise ConfigError(f"output: cannot use bucket {bucket!r} ({type(e).__name__}: {e})") from None
            return
        path = os.path.abspath(self.output)
        existing = path
        while not os.path.exists(existing):  # the folder is made later, by the first partition
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            what = "is a file" if existing == path else f"lies below the file {existing!r}"
            raise ConfigError(f"output: {self.output!r} {what}, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):  # False on a read-only file system, even for root
            raise ConfigError(f"output: cannot write to {self.output!r} ({existing!r} is read-only)")
