"""UnitStore: the word cache's units in flat arrays that the C kernels read (kernels.h).

A unit is a token with the space after it ("word "). Each has a metadata row (int64, kernels.h's column
order): ADV its advance (token + space), px; TOK the advance of the token alone; COL0 its first grey column
in the column arena; EXT0 its first row of character extents (px from the unit's x), NCH how many
(len(token) + 1); SP0, SPN its spilled-ink columns in the spill arenas (SPN = 0: none); KEY0, KEYN its
token's UTF-8 bytes in the key arena. A hash table maps token bytes to a unit id.
"""

from __future__ import annotations

import mmap

import numpy as np

from pixelgpt.renderer import kernels
from pixelgpt.renderer.kernels import ADV, COL0, EXT0, KEY0, KEYN, NCH, NMETA, SP0, SPN


def _arena(shape: tuple, dtype) -> np.ndarray:
    """A zeroed array in its own anonymous mapping: pages cost memory only once touched, and, unlike numpy's
    large allocations, it is not marked for transparent huge pages, whose faults can stall for milliseconds
    while the kernel compacts memory (measured: 4.8 ms, every ~2 MB appended)."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(n, 1)), dtype, int(np.prod(shape))).reshape(shape)


def grow(a: np.ndarray, rows: int) -> np.ndarray:
    """a, or a copy with room for at least `rows` rows (doubling)."""
    if rows <= len(a):
        return a
    out = np.empty((max(rows, 2 * len(a)),) + a.shape[1:], a.dtype)
    out[: len(a)] = a
    return out


class UnitStore:
    """Cached units: metadata rows by id; grey columns, character extents, spilled ink and the tokens' bytes
    in arenas the rows point into; the hash table from token bytes to id."""

    def __init__(self, P: int, max_units: int, max_columns: int):
        self.unusable: set[str] = set()  # tokens that must take the full layout
        self.n = self.cols = self.chars = self.spilled = self.keyed = 0  # rows used of each array below
        self.epoch = 0  # compactions so far (they renumber the units)
        # Room for a full cache from the start: untouched pages cost no memory, and the arrays need never be
        # copied to grow (they still can, for one text with more new units than the slack)
        units, cols = max_units + 4096, max_columns + 2**20
        self.meta = _arena((units, NMETA), np.int64)
        self.last = _arena((units,), np.int64)  # when each unit was last used (a count of compositions)
        self.grey = _arena((cols, P), np.uint8)
        self.ext = _arena((units * 16, 2), np.float32)  # (characters: ~6 a unit in prose)
        self.spill_col = _arena((units,), np.int32)  # relative to the unit's x
        self.spill_alpha = _arena((units, P), np.uint8)
        self.keys = _arena((units * 16,), np.uint8)
        self.slots = _arena((1 << (2 * units - 1).bit_length(),), np.int64)  # under half full

    def lookup(self, text: bytes, n_tokens: int) -> np.ndarray:
        """int64 (n_tokens,): the unit of each space-separated token of text, or -1 where it has none."""
        return kernels.lookup_tokens(text, self.slots, self.meta, self.keys, n_tokens)

    def append(self, tokens, grey, col0, adv, tok, ext, ext0, nch, spill, spill_n, last=0) -> None:
        """Store units i: grey columns grey[col0[i] : col0[i] + adv[i]], character extents (from the unit's x)
        ext[ext0[i] : ext0[i] + nch[i]], token advance tok[i], and spill_n[i] spilled columns: in order, rows
        of spill = (columns from the unit's x, alpha (k, P)); tokens, the units' tokens (their keys)."""
        k = len(tokens)
        if k == 0:
            return
        n, c, x, s, y = self.n, self.cols, self.chars, self.spilled, self.keyed
        cols, chars = int(adv.sum()), int(nch.sum())
        encoded = [t.encode() for t in tokens]
        key_n = np.array(list(map(len, encoded)), np.int64)
        keys, key0 = np.frombuffer(b"".join(encoded), np.uint8), np.cumsum(key_n) - key_n
        self.meta = grow(self.meta, n + k)
        self.last = grow(self.last, n + k)
        self.grey = grow(self.grey, c + cols)
        self.ext = grow(self.ext, x + chars)
        self.spill_col = grow(self.spill_col, s + len(spill[0]))
        self.spill_alpha = grow(self.spill_alpha, s + len(spill[0]))
        self.keys = grow(self.keys, y + int(key_n.sum()))
        kernels.fill_meta(self.meta[n : n + k], adv, tok, nch, spill_n, key_n, c, x, s, y)
        self.cols += kernels.copy_rows(self.grey[c:], grey, col0, adv, cols)
        self.chars += kernels.copy_rows(self.ext[x:], ext, ext0, nch, chars)
        self.keyed += kernels.copy_rows(self.keys[y:], keys, key0, key_n, int(key_n.sum()))
        self.spill_col[s : s + len(spill[0])] = spill[0]
        self.spill_alpha[s : s + len(spill[0])] = spill[1]
        self.spilled += len(spill[0])
        self.last[n : n + k] = last
        self.n += k
        if 2 * self.n > len(self.slots):  # (one text with very many new units): a bigger table
            self.slots = np.zeros(1 << (4 * self.n).bit_length(), np.int64)
            kernels.insert_units(self.slots, self.meta, self.keys, 0, self.n)
        else:
            kernels.insert_units(self.slots, self.meta, self.keys, n, k)

    def compact(self, max_units: int, max_cols: int) -> None:
        """Keep the most recently used units, at most max_units of them in max_cols columns, moving their data
        to the front of the arrays (in place: no new memory to fault in)."""
        order = np.argsort(-self.last[: self.n], kind="stable")
        fit = int(np.searchsorted(np.cumsum(self.meta[order, ADV]), max_cols, side="right"))
        keep = np.sort(order[: min(max_units, fit)])  # (ascending ids: every range moves down or stays)
        m = self.meta[keep]
        new = m.copy()
        used = {}
        for arrays, first, count in (
            ((self.grey,), COL0, ADV),
            ((self.ext,), EXT0, NCH),
            ((self.spill_col, self.spill_alpha), SP0, SPN),
            ((self.keys,), KEY0, KEYN),
        ):
            starts, counts = np.ascontiguousarray(m[:, first]), np.ascontiguousarray(m[:, count])
            used[first] = int(counts.sum())
            for a in arrays:
                kernels.copy_rows(a, a, starts, counts, used[first])
            new[:, first] = np.cumsum(counts) - counts
        k = len(keep)
        self.epoch += 1
        self.meta[:k] = new
        self.last[:k] = self.last[keep]
        self.n, self.cols, self.chars = k, used[COL0], used[EXT0]
        self.spilled, self.keyed = used[SP0], used[KEY0]
        self.unusable = set()
        self.slots[:] = 0
        kernels.insert_units(self.slots, self.meta, self.keys, 0, k)
