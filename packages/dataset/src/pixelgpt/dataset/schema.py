"""The shard format: the only module that knows the MDS columns, their encodings and the set's metadata.

One sample is one chunk of one document that fits one strip. The public view of a sample is always:

    patches        uint8 (n, 16, 16, 3)  RGB, text patches + the black end patch (no trailing padding)
    tokens         int32 (t,)            the tokenizer's ids for exactly `text`, its special tokens included
                                         (Llama-2 and the byte tokenizer: BOS first), t <= meta max_tokens
    token_patches  int32 (t, 2)          half-open patch range that token i's glyphs touch; a special token
                                         covers no character and gets the empty range [p, p) at the patch of
                                         the next character (BOS: [0, 0) when the text starts in patch 0)
    text, source, doc_id: str;  chunk: int

On disk, a chunk without colour (R == G == B everywhere, i.e. anything but colour emoji) stores one grey
channel, (n, 16, 16, 1): 1.6x smaller after zstd and cheaper to compress (measured by bench/pipeline.py).
`decode_sample` broadcasts it back to RGB, so nothing above this module ever sees the stored form.

Beside the partitions (never inside them: merge_index reads every *.json there as an index) a shard set has
`meta.json` (schema version, renderer config, font hashes, tokenizer: kind, vocab size, BOS/EOS/pad ids, the
file's sha256; max_tokens), `stats.json`, `rejects/*.jsonl` and `tokenizer/` (the tokenizer's own files).

Version 2: tokens carry the tokenizer's special tokens (BOS), meta.json records max_tokens; sets of version 1
must be re-rendered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

SCHEMA_VERSION = 2
PATCH = 16

COLUMNS: dict[str, str] = {
    "patches": "ndarray:uint8",
    "tokens": "ndarray:int32",
    "token_patches": "ndarray:int32",
    "text": "str",
    "source": "str",
    "doc_id": "str",
    "chunk": "int32",
}
COMPRESSION = "zstd:3"
HASHES = ["xxh64"]  # must be sorted and unique (MDSWriter)
SIZE_LIMIT = "64mb"  # uncompressed bytes per shard

META_FILE = "meta.json"
STATS_FILE = "stats.json"
REJECTS_DIR = "rejects"
INDEX_FILE = "index.json"


class SchemaError(ValueError):
    """A sample or a shard set that does not match this schema."""


@dataclass(frozen=True)
class Sample:
    patches: np.ndarray  # uint8 (n, 16, 16, 3)
    tokens: np.ndarray  # int32 (t,)
    token_patches: np.ndarray  # int32 (t, 2)
    text: str
    source: str
    doc_id: str
    chunk: int

    @property
    def num_patches(self) -> int:
        return int(self.patches.shape[0])


def validate(sample: Sample) -> None:
    """Raise SchemaError naming the column when `sample` breaks the public view's contract."""
    p, t, tp = sample.patches, sample.tokens, sample.token_patches
    if p.dtype != np.uint8 or p.ndim != 4 or p.shape[1:] != (PATCH, PATCH, 3) or p.shape[0] < 1:
        raise SchemaError(f"patches: want uint8 (n>=1, {PATCH}, {PATCH}, 3), got {p.dtype} {p.shape}")
    if t.dtype != np.int32 or t.ndim != 1 or t.shape[0] < 1:
        # MDS cannot encode a zero-sized dimension, and an empty chunk has nothing to train on.
        raise SchemaError(f"tokens: want int32 (t>=1,), got {t.dtype} {t.shape}")
    if tp.dtype != np.int32 or tp.shape != (t.shape[0], 2):
        raise SchemaError(f"token_patches: want int32 ({t.shape[0]}, 2), got {tp.dtype} {tp.shape}")
    if tp.size and (tp.min() < 0 or tp.max() > p.shape[0] or np.any(tp[:, 0] > tp[:, 1])):
        raise SchemaError("token_patches: ranges must satisfy 0 <= start <= end <= num_patches")
    if not sample.text:
        raise SchemaError("text: empty")


def encode_sample(sample: Sample) -> dict[str, Any]:
    """The dict MDSWriter.write takes. Grey chunks are stored with one channel."""
    validate(sample)
    p = sample.patches
    # a broadcast view (the renderer's colourless strips) is grey by construction: skip the comparison
    if p.strides[-1] == 0 or (np.array_equal(p[..., 0], p[..., 1]) and np.array_equal(p[..., 0], p[..., 2])):
        p = np.ascontiguousarray(p[..., :1])
    return {
        "patches": p,
        "tokens": sample.tokens,
        "token_patches": sample.token_patches,
        "text": sample.text,
        "source": sample.source,
        "doc_id": sample.doc_id,
        "chunk": int(sample.chunk),
    }


def decode_patches(stored: np.ndarray) -> np.ndarray:
    """Stored (n,16,16,1|3) -> the public RGB view (n,16,16,3), a read-only broadcast for grey chunks."""
    if stored.ndim != 4 or stored.shape[-1] not in (1, 3):
        raise SchemaError(f"patches: stored shape {stored.shape} is neither (n,16,16,1) nor (n,16,16,3)")
    if stored.shape[-1] == 1:
        return np.broadcast_to(stored, stored.shape[:-1] + (3,))
    return stored


def decode_sample(raw: dict[str, Any]) -> Sample:
    """A row as StreamingDataset returns it -> Sample (RGB patches)."""
    return Sample(
        patches=decode_patches(raw["patches"]),
        tokens=raw["tokens"],
        token_patches=raw["token_patches"],
        text=raw["text"],
        source=raw["source"],
        doc_id=raw["doc_id"],
        chunk=int(raw["chunk"]),
    )


def make_meta(*, renderer: dict, fonts: dict, tokenizer: dict, **extra: Any) -> dict:
    """The content of meta.json. `renderer` is the RendererConfig as a dict, `fonts` maps file -> sha256,
    `tokenizer` names the tokenizer and its hash."""
    return {
        "schema_version": SCHEMA_VERSION,
        "columns": COLUMNS,
        "compression": COMPRESSION,
        "hashes": HASHES,
        "renderer": renderer,
        "fonts": fonts,
        "tokenizer": tokenizer,
        **extra,
    }


def meta_to_json(meta: dict) -> str:
    return json.dumps(meta, indent=2, sort_keys=True) + "\n"


def check_meta(meta: dict, where: str = "shard set") -> dict:
    """Fail with a clear error when a shard set was written with another schema version."""
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"{where}: {META_FILE} has schema_version {version!r}, this code reads version {SCHEMA_VERSION}; "
            "re-render the set or use a matching release"
        )
    return meta
