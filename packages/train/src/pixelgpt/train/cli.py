"""`pixelgpt-train` (= packages/train/run.py): pretrain a variant from a YAML config with key=value overrides.

    pixelgpt-train yamls/tiny/dualgpt.yaml data.shards='[{path: out/demo/shards}]' optimizer.lr=1e-3
    composer -n 8 packages/train/run.py yamls/pixelgpt.yaml save_folder=s3://bucket/ckpt/{run_name}

`--help` lists every key with its meaning and default. A user error (an unknown key, a bad value, a missing
shard set, shards that do not fit the run) ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing

USAGE = """usage: pixelgpt-train CONFIG.yaml [KEY=VALUE ...]
       composer -n NPROC packages/train/run.py CONFIG.yaml [KEY=VALUE ...]

Overrides nest with dots (optimizer.lr=1e-3) and take YAML values (data.shards='[{path: a}]').
Relaunching the same command resumes from the latest checkpoint in save_folder."""


def field_comments(cls: type) -> dict[str, str]:
    """The trailing `# ...` comment of each field of a dataclass: the one place its keys are explained."""
    comments: dict[str, str] = {}
    above: list[str] = []  # comment lines right above a field explain it too
    for line in inspect.getsource(cls).splitlines():
        if re.match(r"\s+#", line):
            above.append(line.strip().lstrip("#").strip())
            continue
        m = re.match(r"\s+(\w+):[^#=]*(?:=[^#]*)?(?:#\s*(.+))?$", line)
        if m and (m.group(2) or above):
            comments[m.group(1)] = " ".join([*above, m.group(2) or ""]).strip()
        above = []
    return comments


def describe_keys(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, meaning) for every key of a config dataclass, nested sections flattened with dots."""
    rows = []
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        inner = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)]
        nested = tp if dataclasses.is_dataclass(tp) else (inner[0] if inner else None)
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = "" if nested else repr(f.default_factory())
        else:
            default = "(required)"
        if nested is not None and typing.get_origin(tp) is not list:
            rows.append((key, default, comments.get(f.name, "a section:")))
            rows.extend(describe_keys(nested, key + "."))
        elif nested is not None:  # a list of sections (data.shards)
            rows.append((key, default, comments.get(f.name, "a list of:")))
            rows.extend(describe_keys(nested, key + "[]."))
        else:
            rows.append((key, default, comments.get(f.name, "")))
    return rows


def help_text() -> str:
    from pixelgpt.train.config import TrainConfig

    rows = describe_keys(TrainConfig)
    width = max(len(k) for k, _, _ in rows)
    lines = [USAGE, "", "keys (default, meaning):"]
    for key, default, meaning in rows:
        lines.append(f"  {key:<{width}}  {default:<12} {meaning}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(help_text())
        return 0 if argv else 2
    from pixelgpt.train.config import ConfigError, load_config

    try:
        cfg = load_config(argv[0], argv[1:])  # fails fast, before torch/composer are imported
    except (ConfigError, FileNotFoundError) as e:
        print(f"pixelgpt-train: {e}", file=sys.stderr)
        return 2
    from composer.utils import dist

    from pixelgpt.dataset.schema import SchemaError
    from pixelgpt.dataset.streaming import ShardReadError
    from pixelgpt.dataset.tokenizers import TokenizerError
    from pixelgpt.train.trainer import format_summary, train

    try:
        summary = train(cfg)
    except (ConfigError, FileNotFoundError, SchemaError, TokenizerError, ShardReadError) as e:
        print(f"pixelgpt-train: {e}", file=sys.stderr)
        return 2
    if dist.get_global_rank() == 0:
        print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
