"""Reading shard sets for training: a StreamingDataset over one or more sets, yielding decoded samples.

A shard set is a folder (local path or s3:// URL) holding index.json, the partitions and meta.json. Sets are
always read through `remote=` with a scratch `local=` cache: reading a compressed set as `local=` would write
decompressed copies into the published folder (setup-notes.md §D).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streaming import Stream, StreamingDataset
from streaming.base.storage import CloudDownloader
from streaming.base.util import clean_stale_shared_memory

from pixelgpt.dataset import schema

__all__ = ["ShardSet", "PixelTextDataset", "read_meta", "shared_tokenizer", "clean_stale_shared_memory"]


@dataclass(frozen=True)
class ShardSet:
    """One shard set and its share of the samples (None: its natural size)."""

    path: str
    proportion: float | None = None


def _is_remote(path: str) -> bool:
    return "://" in path


def read_meta(path: str, scratch: str | None = None) -> dict:
    """meta.json of the shard set at `path` (local or remote), checked against this code's schema version.

    Raises FileNotFoundError naming the set when it has no index.json or meta.json."""
    if not _is_remote(path):
        if not os.path.isdir(path):
            raise FileNotFoundError(f"shard set {path!r}: no such folder")
        for name in (schema.INDEX_FILE, schema.META_FILE):
            if not os.path.isfile(os.path.join(path, name)):
                raise FileNotFoundError(f"shard set {path!r}: {name} is missing (not a finished shard set)")
        meta_file = os.path.join(path, schema.META_FILE)
    else:
        scratch = scratch or tempfile.mkdtemp(prefix="pixelgpt-meta-")
        meta_file = os.path.join(scratch, _cache_name(path), schema.META_FILE)
        if os.path.exists(meta_file):
            os.remove(meta_file)  # always re-read: the remote set may have been re-published
        try:
            CloudDownloader.direct_download(f"{path.rstrip('/')}/{schema.META_FILE}", meta_file)
        except Exception as e:  # the clients raise many types; the message is what matters
            raise FileNotFoundError(f"shard set {path!r}: cannot read {schema.META_FILE}: {e}") from e
    with open(meta_file, encoding="utf-8") as f:
        meta = json.load(f)
    return schema.check_meta(meta, where=f"shard set {path!r}")


def shared_tokenizer(metas: Sequence[dict], paths: Sequence[str]) -> dict:
    """The tokenizer entry all sets share; mixing sets tokenized differently is an error."""
    first = metas[0].get("tokenizer")
    for meta, path in zip(metas[1:], paths[1:]):
        if meta.get("tokenizer") != first:
            raise ValueError(
                f"shard set {path!r} was tokenized with {meta.get('tokenizer')!r}, "
                f"but {paths[0]!r} with {first!r}; all sets of one run need the same tokenizer"
            )
    return first or {}


def _cache_name(path: str) -> str:
    """A stable folder name for a set's cache: readable tail + hash of the full path."""
    tail = os.path.basename(path.rstrip("/")) or "set"
    return f"{tail}-{hashlib.sha1(path.encode()).hexdigest()[:10]}"


class PixelTextDataset(StreamingDataset):
    """Samples of one or more shard sets as dicts: patches uint8 (n,16,16,3) RGB, tokens int32 (t,),
    token_patches int32 (t,2), text, source, doc_id, chunk.

    `cache` is the scratch folder for downloaded/decompressed shards (one sub-folder per set; never a
    published set). `batch_size` must be the DataLoader's per-device batch size, or resumption is not
    deterministic.
    Remaining keyword arguments go to StreamingDataset (shuffle, shuffle_seed, num_canonical_nodes, ...).
    """

    def __init__(
        self,
        shard_sets: Sequence[ShardSet],
        cache: str,
        batch_size: int,
        *,
        validate_hash: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not shard_sets:
            raise ValueError("no shard sets given")
        self.metas = [read_meta(s.path, scratch=cache) for s in shard_sets]
        self.tokenizer = shared_tokenizer(self.metas, [s.path for s in shard_sets])
        streams = [
            Stream(
                remote=s.path,
                local=os.path.join(cache, _cache_name(s.path)),
                proportion=s.proportion,
                validate_hash=validate_hash,
            )
            for s in shard_sets
        ]
        super().__init__(streams=streams, batch_size=batch_size, **kwargs)

    def release(self) -> None:
        """Give up the claim on the cache folders now instead of at garbage collection (what the destructor
        does), so a later dataset in this process may use them even while a traceback keeps this one alive."""
        StreamingDataset.__del__(self)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        s = schema.decode_sample(super().__getitem__(idx))
        return {
            "patches": s.patches,
            "tokens": s.tokens,
            "token_patches": s.token_patches,
            "text": s.text,
            "source": s.source,
            "doc_id": s.doc_id,
            "chunk": s.chunk,
        }
