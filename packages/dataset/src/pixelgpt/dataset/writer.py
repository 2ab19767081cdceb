"""MDS partition writing and the merge of finished partitions into one shard set.

Layout of a shard set (local folder or s3:// prefix):
    <root>/<partition>/shard.NNNNN.mds.zstd, index.json  a partition per task; complete iff index.json exists
    <root>/index.json                        merged from the partitions' indexes (written last)
    <root>/meta.json, <root>/stats.json      schema/renderer/fonts/tokenizer/counts; counts and speed
    <root>/rejects/<partition>.jsonl         doc_id, source, file, reason
    <root>/stats/<partition>.jsonl           one line of counts per partition (not *.json: streaming's
                                             merge_index reads every *.json below the root as an index)
"""

from __future__ import annotations

import json
import os
import tempfile
from hashlib import sha256

from streaming import MDSWriter

from pixelgpt.dataset import schema, storage

PARTITION_STATS_DIR = "stats"


def partition_uri(root: str, name: str) -> str:
    return storage.join(root, name)


def index_uri(root: str, name: str) -> str:
    return storage.join(root, name, schema.INDEX_FILE)


def is_complete(root: str, name: str) -> bool:
    return storage.exists(index_uri(root, name))


def staging_dir(root: str, name: str, staging: str | None) -> str:
    """Local folder where a partition bound for object storage is written before upload."""
    base = staging or os.path.join(tempfile.gettempdir(), "pixelgpt-staging")
    return os.path.join(base, sha256(root.encode()).hexdigest()[:12], name)


def open_writer(root: str, name: str, *, size_limit, compression: str, staging: str | None) -> MDSWriter:
    """An MDSWriter for one partition; its index.json is written (and uploaded) last, by finish()."""
    out: str | tuple[str, str]
    if storage.is_remote(root):
        storage.remove_tree(partition_uri(root, name))  # leftovers of a failed attempt
        out = (staging_dir(root, name, staging), partition_uri(root, name))
    else:
        out = partition_uri(root, name)
    return MDSWriter(
        out=out,
        columns=schema.COLUMNS,
        compression=compression,
        hashes=schema.HASHES,
        size_limit=size_limit,
        exist_ok=True,
        progress_bar=False,
    )


def write_partition_stats(root: str, name: str, counts: dict) -> None:
    data = (json.dumps(counts, sort_keys=True) + "\n").encode()
    storage.write_bytes(storage.join(root, PARTITION_STATS_DIR, f"{name}.jsonl"), data)


def read_partition_stats(root: str, name: str) -> dict:
    return json.loads(storage.read_bytes(storage.join(root, PARTITION_STATS_DIR, f"{name}.jsonl")))


def write_rejects(root: str, name: str, rejects: list[dict]) -> None:
    uri = storage.join(root, schema.REJECTS_DIR, f"{name}.jsonl")
    if rejects:
        storage.write_bytes(uri, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects).encode())


def read_index(uri: str) -> dict:
    return json.loads(storage.read_bytes(uri))


def merge_indexes(root: str, names: list[str]) -> dict:
    """The root index: every partition's shards in partition order, basenames prefixed by the partition folder
    (what streaming's merge_index writes). Raises when a partition is not complete."""
    shards = []
    for name in names:
        uri = index_uri(root, name)
        if not storage.exists(uri):
            raise RuntimeError(f"partition {name} is not complete (no {uri}); re-run the job to finish it")
        for shard in read_index(uri)["shards"]:
            for key in ("raw_data", "zip_data"):
                if shard.get(key):
                    shard[key]["basename"] = f"{name}/{shard[key]['basename']}"
            shards.append(shard)
    return {"version": 2, "shards": shards}


def write_json(uri: str, obj: dict) -> None:
    storage.write_bytes(uri, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def shard_bytes(index: dict) -> tuple[int, int]:
    """(uncompressed, stored) bytes of all shards of an index."""
    raw = sum(s["raw_data"]["bytes"] for s in index["shards"])
    stored = sum((s.get("zip_data") or s["raw_data"])["bytes"] for s in index["shards"])
    return raw, stored
