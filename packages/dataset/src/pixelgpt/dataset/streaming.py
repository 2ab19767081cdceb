"""Reading shard sets for training: a StreamingDataset over one or more sets, yielding decoded samples.

A shard set is a folder (local path or s3:// URL) holding index.json, the partitions and meta.json. Sets are
always read through `remote=` with a scratch `local=` cache: reading a compressed set as `local=` would write
decompressed copies into the published folder.

Streaming trusts whatever its cache holds (a cached index.json is never re-read, a cached shard never
re-checked), so a set that was repaired or re-published would stay shadowed by a stale or corrupt cached copy.
Before streaming sees a cache, `refresh_cache` brings it in line with the set's current index: a changed index
is replaced, and every cached shard file whose size or xxh64 differs from the index is deleted (to be fetched
again, and hash-checked on download: hash checks are on by default).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xxhash
from streaming import Stream, StreamingDataset
from streaming.base.storage import CloudDownloader
from streaming.base.util import clean_stale_shared_memory

from pixelgpt.dataset import schema, storage

__all__ = ["ShardSet", "PixelTextDataset", "read_meta", "shared_tokenizer", "clean_stale_shared_memory"]


@dataclass(frozen=True)
class ShardSet:
    """One shard set and its share of the samples (None: its natural size)."""

    path: str
    proportion: float | None = None


def read_meta(path: str, scratch: str | None = None) -> dict:
    """meta.json of the shard set at `path` (local or remote), checked against this code's schema version.

    Raises FileNotFoundError naming the set when it has no index.json or meta.json."""
    if not storage.is_url(path):
        if not os.path.isdir(path):
            raise FileNotFoundError(f"shard set {path!r}: no such folder")
        for name in (schema.INDEX_FILE, schema.META_FILE):
            if not os.path.isfile(os.path.join(path, name)):
                raise FileNotFoundError(f"shard set {path!r}: {name} is missing (not a finished shard set)")
        meta_file = os.path.join(path, schema.META_FILE)
    else:
        scratch = scratch or tempfile.mkdtemp(prefix="pixelgpt-meta-")
        # Always re-read (the remote set may have been re-published), into a file of this process's own:
        # the ranks of a host share the scratch folder, and one's clean-up would race another's download.
        meta_file = os.path.join(scratch, _cache_name(path), f"{schema.META_FILE}.{os.getpid()}")
        try:
            CloudDownloader.direct_download(f"{path.rstrip('/')}/{schema.META_FILE}", meta_file)
        except Exception as e:  # the clients raise many types; the message is what matters
            raise FileNotFoundError(f"shard set {path!r}: cannot read {schema.META_FILE}: {e}") from e
        try:
            with open(meta_file, encoding="utf-8") as f:
                meta = json.load(f)
        finally:
            os.remove(meta_file)
        return schema.check_meta(meta, where=f"shard set {path!r}")
    with open(meta_file, encoding="utf-8") as f:
        meta = json.load(f)
    return schema.check_meta(meta, where=f"shard set {path!r}")


def read_tokenizer(path: str, scratch: str):
    """The tokenizer a shard set was tokenized with, from the files the render job stored beside it
    (`<set>/tokenizer/`); the built-in byte tokenizer needs none."""
    from pixelgpt.dataset.tokenizers import load_tokenizer

    meta = read_meta(path, scratch)
    if meta["tokenizer"].get("kind") == "byte":
        return load_tokenizer("byte")
    folder = os.path.join(scratch, _cache_name(path) + "-tokenizer")
    remote = storage.join(path, "tokenizer")
    names = storage.list_sizes(remote)
    if not names:
        raise FileNotFoundError(f"shard set {path!r}: no tokenizer/ folder beside the shards")
    os.makedirs(folder, exist_ok=True)
    for name in names:
        storage.write_bytes(os.path.join(folder, name), storage.read_bytes(storage.join(remote, name)))
    return load_tokenizer(folder)


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


def refresh_cache(remote: str, local: str) -> list[str]:
    """Make the cache `local` of the set `remote` agree with the set's index; returns the cached files it
    deleted (stale or corrupt). Only local paths and s3:// remotes are checked (others are left to
    streaming)."""
    if "://" in remote and not storage.is_remote(remote):
        return []
    index_bytes = storage.read_bytes(storage.join(remote, schema.INDEX_FILE))
    index_path = os.path.join(local, schema.INDEX_FILE)
    os.makedirs(local, exist_ok=True)
    if not os.path.exists(index_path) or _read(index_path) != index_bytes:
        storage.write_bytes(index_path, index_bytes)
    deleted = []
    for shard in json.loads(index_bytes)["shards"]:
        for key in ("zip_data", "raw_data"):
            info = shard.get(key)
            path = os.path.join(local, info["basename"]) if info else None
            if path is None or not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            want = info.get("hashes", {}).get("xxh64")
            if len(data) != info["bytes"] or (want is not None and xxhash.xxh64(data).hexdigest() != want):
                os.remove(path)
                deleted.append(path)
    return deleted


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _refresh_caches(pairs: list[tuple[str, str]]) -> None:
    """refresh_cache on one process per node (local rank 0) while the others wait, when distributed."""
    import torch.distributed as tdist

    distributed = tdist.is_available() and tdist.is_initialized()
    if not distributed or int(os.environ.get("LOCAL_RANK", "0")) == 0:
        for remote, local in pairs:
            for path in refresh_cache(remote, local):
                print(
                    f"shard cache: {path} differs from the set's index; it will be fetched again", flush=True
                )
    if distributed:
        tdist.barrier()


class ShardReadError(RuntimeError):
    """A shard could not be read (corrupt: its hash differs from the index; or missing); names the file."""


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
        validate_hash: str | None = "xxh64",
        **kwargs: Any,
    ) -> None:
        if not shard_sets:
            raise ValueError("no shard sets given")
        self.metas = [read_meta(s.path, scratch=cache) for s in shard_sets]
        self.tokenizer = shared_tokenizer(self.metas, [s.path for s in shard_sets])
        self.max_tokens = max(int(m["max_tokens"]) for m in self.metas)  # the longest token row of any set
        self.max_patches = max(int(m["renderer"]["max_patches"]) for m in self.metas)
        locals_ = [os.path.join(cache, _cache_name(s.path)) for s in shard_sets]
        _refresh_caches([(s.path, local) for s, local in zip(shard_sets, locals_)])
        streams = [
            Stream(remote=s.path, local=local, proportion=s.proportion, validate_hash=validate_hash)
            for s, local in zip(shard_sets, locals_)
        ]
        super().__init__(streams=streams, batch_size=batch_size, **kwargs)

    # Streaming's download threads report a failure (a corrupt shard: "Checksum failure: <file>") only in a
    # log line, and the reader then raises "Background thread failed. Check other traceback.": keep the
    # thread's exception and raise it in the reader instead.
    def on_exception(self, future) -> None:
        error = future.exception()
        if error is not None and getattr(self, "_thread_error", None) is None:
            self._thread_error = error
        super().on_exception(future)

    def _explained(self, error: RuntimeError) -> Exception:
        cause = getattr(self, "_thread_error", None)
        if cause is None or "Background thread failed" not in str(error):
            return error
        return ShardReadError(f"reading the shard sets failed: {type(cause).__name__}: {cause}")

    def __iter__(self):
        try:
            yield from super().__iter__()
        except RuntimeError as e:
            raise self._explained(e) from None

    def release(self) -> None:
        """Give up the claim on the cache folders now instead of at garbage collection (what the destructor
        does), so a later dataset in this process may use them even while a traceback keeps this one alive."""
        StreamingDataset.__del__(self)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        try:
            raw = super().__getitem__(idx)
        except RuntimeError as e:
            raise self._explained(e) from None
        s = schema.decode_sample(raw)
        return {
            "patches": s.patches,
            "tokens": s.tokens,
            "token_patches": s.token_patches,
            "text": s.text,
            "source": s.source,
            "doc_id": s.doc_id,
            "chunk": s.chunk,
        }
