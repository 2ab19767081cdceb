"""MDS partitions written so that only a finished one ever looks finished, and the merge of finished ones.

Layout of a shard set (local folder or s3:// prefix):
    <root>/<partition>/shard.NNNNN.mds.zstd, index.json  one partition per task
    <root>/index.json                        merged from the partitions' indexes (written last)
    <root>/meta.json, <root>/stats.json      schema/renderer/fonts/tokenizer/counts; counts and speed
    <root>/tokenizer/                        the tokenizer's files (tokenizer.json | .model,
    tokenizer_config.json)
    <root>/rejects/<partition>.jsonl         doc_id, source, file, reason
    <root>/stats/<partition>.jsonl           one line of counts per partition (not *.json: streaming's
                                             merge_index reads every *.json below the root as an index)

Completion protocol. A partition is written whole into a staging folder of its own attempt
(`<root>/<name>.partial.<pid>.<random>` for a local set: same file system, so the final rename is atomic; a
local folder for an s3:// set). Only when every sample
is written are its rejects, then its stats (counts, fingerprint, the index's sha256, the shards' sizes), then
its data published: for a local set one rename of the folder; for s3:// the shards, then index.json last.
A partition is complete only when index.json, stats and shards agree (`is_complete`), so a killed, failed or
out-of-space attempt never passes for a finished one: the next run redoes it from scratch. Staging folders
are per attempt because a worker of a killed driver can outlive it for a while: it must not write into the
files of the next run's attempt at the same partition.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pixelgpt.dataset import schema, storage

PARTITION_STATS_DIR = "stats"
TOKENIZER_DIR = "tokenizer"
PARTIAL_SUFFIX = ".partial"


def partition_uri(root: str, name: str) -> str:
    return storage.join(root, name)


def index_uri(root: str, name: str) -> str:
    return storage.join(root, name, schema.INDEX_FILE)


def stats_uri(root: str, name: str) -> str:
    return storage.join(root, PARTITION_STATS_DIR, f"{name}.jsonl")


def rejects_uri(root: str, name: str) -> str:
    return storage.join(root, schema.REJECTS_DIR, f"{name}.jsonl")


def staging_dir(root: str, name: str, staging: str | None) -> str:
    """Where one attempt writes a partition before publishing it (a new folder per attempt)."""
    attempt = f"{name}{PARTIAL_SUFFIX}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    if not storage.is_remote(root):
        return os.path.join(root, attempt)
    base = staging or os.path.join(tempfile.gettempdir(), "pixelgpt-staging")
    return os.path.join(base, hashlib.sha256(root.encode()).hexdigest()[:12], attempt)


def remove_stale_staging(local: str, name: str) -> None:
    """Remove what earlier attempts at this partition left in staging (killed, or still dying: a stale
    writer then fails, and its driver is gone anyway)."""
    pattern = os.path.join(glob.escape(os.path.dirname(local)), glob.escape(name + PARTIAL_SUFFIX) + ".*")
    for old in glob.glob(pattern):
        if old != local:
            shutil.rmtree(old, ignore_errors=True)


class PartitionWriter:
    """One attempt at one partition: `write` samples, then `commit(stats, rejects)`; leaving the `with` block
    without a commit (an exception, a kill) publishes nothing and removes the staging folder."""

    def __init__(self, root: str, name: str, *, size_limit, compression: str, staging: str | None = None):
        self.root, self.name = root, name
        self.local = staging_dir(root, name, staging)
        remove_stale_staging(self.local, name)
        # Imported here: `import streaming` takes ~10 s (it pulls in torch and transformers), which the job's
        # driver (it only plans, checks and merges) should not pay.
        from streaming import MDSWriter

        self._mds = MDSWriter(
            out=self.local,
            columns=schema.COLUMNS,
            compression=compression,
            hashes=schema.HASHES,
            size_limit=size_limit,
            exist_ok=True,
            progress_bar=False,
        )
        self._committed = False

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, *exc) -> None:
        if not self._committed:
            shutil.rmtree(self.local, ignore_errors=True)

    def write(self, encoded: dict[str, Any]) -> None:
        self._mds.write(encoded)

    def commit(self, stats: dict, rejects: list[dict]) -> dict:
        """Finish the shards, then publish rejects, stats and the data, the index last. Returns the stats as
        written (with the index's sha256 and the shard sizes added)."""
        self._mds.finish()
        with open(os.path.join(self.local, schema.INDEX_FILE), "rb") as f:
            index_bytes = f.read()
        index = json.loads(index_bytes)
        stats = {
            **stats,
            "index_sha256": hashlib.sha256(index_bytes).hexdigest(),
            "shards": {k: v for k, v in sorted(shard_sizes(index).items())},
        }
        write_rejects(self.root, self.name, rejects)
        write_partition_stats(self.root, self.name, stats)
        self._publish()
        self._committed = True
        return stats

    def _publish(self) -> None:
        final = partition_uri(self.root, self.name)
        if not storage.is_remote(self.root):
            shutil.rmtree(final, ignore_errors=True)  # an incomplete earlier attempt
            os.replace(self.local, final)
            return
        storage.remove_tree(final)
        files = sorted(f for f in os.listdir(self.local) if f != schema.INDEX_FILE)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda f: storage.upload_file(os.path.join(self.local, f), storage.join(final, f)), files
                )
            )
        storage.upload_file(os.path.join(self.local, schema.INDEX_FILE), index_uri(self.root, self.name))
        shutil.rmtree(self.local, ignore_errors=True)


def shard_sizes(index: dict) -> dict[str, int]:
    """basename -> bytes of every file a partition index lists (compressed shards, or raw ones if stored)."""
    out = {}
    for shard in index["shards"]:
        info = shard.get("zip_data") or shard["raw_data"]
        out[info["basename"]] = int(info["bytes"])
    return out


def is_complete(root: str, name: str) -> tuple[bool, dict | None]:
    """(complete, stats): complete when the stats exist, the index's bytes hash to the stats' index_sha256,
    its sample count is the stats' chunk count, and every shard it lists is there with its size. stats is
    returned whenever it could be read (to tell "complete with other settings" from "not complete")."""
    try:
        stats = read_partition_stats(root, name)
        index_bytes = storage.read_bytes(index_uri(root, name))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return False, None
    if hashlib.sha256(index_bytes).hexdigest() != stats.get("index_sha256"):
        return False, stats
    try:
        index = json.loads(index_bytes)
    except json.JSONDecodeError:
        return False, stats
    if sum(int(s["samples"]) for s in index["shards"]) != stats.get("chunks"):
        return False, stats
    present = storage.list_sizes(partition_uri(root, name))
    complete = all(present.get(base) == size for base, size in shard_sizes(index).items())
    return complete, stats


def write_partition_stats(root: str, name: str, counts: dict) -> None:
    data = (json.dumps(counts, sort_keys=True) + "\n").encode()
    storage.write_bytes(stats_uri(root, name), data)


def read_partition_stats(root: str, name: str) -> dict:
    return json.loads(storage.read_bytes(stats_uri(root, name)))


def write_rejects(root: str, name: str, rejects: list[dict]) -> None:
    uri = rejects_uri(root, name)
    if rejects:
        storage.write_bytes(uri, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects).encode())
    else:
        storage.remove(uri)  # a file of an earlier attempt with other inputs


def read_index(uri: str) -> dict:
    return json.loads(storage.read_bytes(uri))


def merge_indexes(root: str, names: list[str]) -> dict:
    """The root index: every partition's shards in partition order, basenames prefixed by the partition folder
    (what streaming's merge_index writes). The indexes are read concurrently (one request each on S3)."""

    def read(name: str) -> list[dict]:
        uri = index_uri(root, name)
        try:
            shards = read_index(uri)["shards"]
        except FileNotFoundError:
            raise RuntimeError(f"partition {name} is not complete (no {uri}); re-run the job") from None
        for shard in shards:
            for key in ("raw_data", "zip_data"):
                if shard.get(key):
                    shard[key]["basename"] = f"{name}/{shard[key]['basename']}"
        return shards

    with ThreadPoolExecutor(max_workers=16) as pool:
        per_partition = list(pool.map(read, names))
    return {"version": 2, "shards": [s for shards in per_partition for s in shards]}


def write_json(uri: str, obj: dict) -> None:
    storage.write_bytes(uri, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def shard_bytes(index: dict) -> tuple[int, int]:
    """(uncompressed, stored) bytes of all shards of an index."""
    raw = sum(s["raw_data"]["bytes"] for s in index["shards"])
    stored = sum((s.get("zip_data") or s["raw_data"])["bytes"] for s in index["shards"])
    return raw, stored
