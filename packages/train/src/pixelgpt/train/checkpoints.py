"""Autoresume that survives a broken latest checkpoint.

Composer resumes from `<save_folder>/latest-rank0.pt` (a symlink; on object storage a
`latest-rank0.pt.symlink` object holding the checkpoint's key). If that checkpoint is truncated or corrupt (a
node died mid-write, a disk filled up) every relaunch fails inside torch's zip reader without naming the file.
`repair_latest` runs before the Trainer is built: it checks the checkpoint the symlink points at and, when it
cannot be read, points the symlink at the newest checkpoint that can, and says so. Checkpoints are monolithic
`ep{E}-ba{B}-rank0.pt` files (checked with zip's CRCs) or sharded `ep{E}-ba{B}/` folders (checked against
their .metadata: every byte range it lists must exist).
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable

from pixelgpt.dataset import storage

LATEST = "latest-rank0.pt"
_NAME = re.compile(r"^ep(\d+)-ba(\d+)(-rank0\.pt)?$")


class CheckpointError(RuntimeError):
    """No readable checkpoint to resume from; the message names the broken files."""


def repair_latest(save_folder: str, log: Callable[[str], None] = print) -> str | None:
    """Make the latest symlink of `save_folder` (local or s3://) point at a readable checkpoint. Returns the
    checkpoint it points at after the check (None: no checkpoint yet). Call on global rank 0 only."""
    store = _Store(save_folder)
    target = store.latest()
    if target is None or store.readable(target):
        return target
    candidates = sorted(
        (n for n in store.checkpoints() if n != target), key=lambda n: _batch_of(n), reverse=True
    )
    broken = [target]
    for name in candidates:
        if _batch_of(name) > _batch_of(target):
            continue  # newer than what "latest" says: never finished (the symlink is written last)
        if store.readable(name):
            store.point_latest_at(name)
            log(
                f"checkpoint {store.uri(target)} cannot be read (truncated or corrupt); "
                f"resuming from the previous one, {store.uri(name)}"
            )
            return name
        broken.append(name)
    raise CheckpointError(
        f"no readable checkpoint in {save_folder}: {', '.join(store.uri(n) for n in broken)} cannot be read; "
        "delete them to start over"
    )


def _batch_of(name: str) -> int:
    m = _NAME.match(name)
    return int(m.group(2)) if m else -1


class _Store:
    """The few operations repair_latest needs, on a local folder or an s3:// prefix."""

    def __init__(self, folder: str):
        self.folder = folder.rstrip("/")
        self.remote = storage.is_remote(folder)

    def uri(self, name: str) -> str:
        return storage.join(self.folder, name)

    def latest(self) -> str | None:
        if not self.remote:
            link = os.path.join(self.folder, LATEST)
            return os.readlink(link).rstrip("/") if os.path.islink(link) else None
        try:
            key = storage.read_bytes(self.uri(LATEST + ".symlink")).decode().strip()
        except FileNotFoundError:
            return None
        return key.rstrip("/").rsplit("/", 1)[-1]

    def checkpoints(self) -> list[str]:
        if not self.remote:
            names = os.listdir(self.folder) if os.path.isdir(self.folder) else []
        else:
            names = {rel.split("/", 1)[0] for rel in storage.list_sizes(self.folder)}
        return [n for n in names if _NAME.match(n)]

    def point_latest_at(self, name: str) -> None:
        if not self.remote:
            tmp = os.path.join(self.folder, f".{LATEST}.tmp")
            if os.path.lexists(tmp):
                os.remove(tmp)
            os.symlink(name, tmp)
            os.replace(tmp, os.path.join(self.folder, LATEST))
            return
        _, prefix = storage.split_s3(self.folder)
        storage.write_bytes(self.uri(LATEST + ".symlink"), f"{prefix}/{name}".encode())

    def readable(self, name: str) -> bool:
        if name.endswith(".pt"):
            return self._zip_ok(name)
        return self._sharded_ok(name)

    def _zip_ok(self, name: str) -> bool:
        with tempfile.TemporaryDirectory(prefix="pixelgpt-ckpt-") as tmp:
            path = self.uri(name)
            if self.remote:
                path = os.path.join(tmp, name)
                try:
                    with open(path, "wb") as f:
                        f.write(storage.read_bytes(self.uri(name)))
                except FileNotFoundError:
                    return False
            try:
                with zipfile.ZipFile(path) as z:
                    return z.testzip() is None
            except (OSError, zipfile.BadZipFile, EOFError):
                return False

    def _sharded_ok(self, name: str) -> bool:
        """Every (file, offset, length) the checkpoint's .metadata lists lies within an existing file."""
        from torch.distributed.checkpoint import FileSystemReader

        sizes = storage.list_sizes(self.uri(name))
        with tempfile.TemporaryDirectory(prefix="pixelgpt-ckpt-") as tmp:
            try:
                with open(os.path.join(tmp, ".metadata"), "wb") as f:
                    f.write(storage.read_bytes(self.uri(name) + "/.metadata"))
                metadata = FileSystemReader(tmp).read_metadata()  # torch's own reader of its format
            except (FileNotFoundError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
                return False
        for info in (getattr(metadata, "storage_data", None) or {}).values():
            end = getattr(info, "offset", 0) + getattr(info, "length", 0)
            if sizes.get(getattr(info, "relative_path", ""), -1) < end:
                return False
        return True
