"""Token -> patch alignment: token i covers the union of the patch ranges of the characters it spans."""

from __future__ import annotations

import numpy as np


def token_patches(offsets: np.ndarray, char_patches: np.ndarray) -> np.ndarray:
    """offsets (t, 2) half-open character spans; char_patches (c, 2) half-open patch ranges per character.
    Returns int32 (t, 2): [min start, max end) over the token's characters; a token spanning no character gets
    the empty range at the next character's start (or at the last character's end)."""
    t, c = len(offsets), len(char_patches)
    out = np.zeros((t, 2), dtype=np.int32)
    if t == 0:
        return out
    if c == 0:
        return out
    s = np.clip(offsets[:, 0].astype(np.int64), 0, c)
    e = np.clip(offsets[:, 1].astype(np.int64), 0, c)
    e = np.maximum(e, s)
    sentinel_start = np.append(char_patches[:, 0], np.iinfo(np.int32).max)
    sentinel_end = np.append(char_patches[:, 1], -1)
    idx = np.stack([s, e], axis=1).ravel()
    idx = np.minimum(idx, c)  # reduceat needs indices < len (the sentinel row is index c)
    starts = np.minimum.reduceat(sentinel_start, idx)[0::2]
    ends = np.maximum.reduceat(sentinel_end, idx)[0::2]
    empty = e == s
    if empty.any():
        at = np.where(s[empty] < c, sentinel_start[np.minimum(s[empty], c - 1)], char_patches[-1, 1])
        starts[empty] = at
        ends[empty] = at
    out[:, 0] = starts
    out[:, 1] = np.maximum(ends, starts)
    return out
