"""token_patches against a naive per-token loop."""

import numpy as np

from pixelgpt.dataset.align import token_patches


def naive(offsets, char_patches):
    out = []
    c = len(char_patches)
    for s, e in offsets:
        s, e = min(max(s, 0), c), min(max(e, 0), c)
        if e > s:
            lo = min(int(char_patches[i][0]) for i in range(s, e))
            hi = max(int(char_patches[i][1]) for i in range(s, e))
        else:
            lo = hi = int(char_patches[s][0]) if s < c else int(char_patches[-1][1])
        out.append((lo, hi))
    return out


def test_matches_naive_on_random_overlapping_and_empty_spans():
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = int(rng.integers(1, 60))
        starts = rng.integers(0, 30, size=c)  # not monotone: RTL runs
        char_patches = np.stack([starts, starts + rng.integers(0, 3, size=c)], axis=1).astype(np.int32)
        t = int(rng.integers(1, 40))
        s = rng.integers(0, c + 1, size=t)
        e = np.minimum(s + rng.integers(0, 5, size=t), c)
        offsets = np.stack([s, e], axis=1).astype(np.int32)
        got = token_patches(offsets, char_patches)
        assert got.dtype == np.int32 and got.shape == (t, 2)
        assert [tuple(r) for r in got.tolist()] == naive(offsets.tolist(), char_patches.tolist())


def test_byte_tokens_of_one_character_share_its_range():
    char_patches = np.array([[0, 1], [1, 2], [1, 3]], np.int32)
    offsets = np.array([[0, 1], [1, 2], [1, 2], [1, 2], [2, 3]], np.int32)  # a 3-byte char in the middle
    assert token_patches(offsets, char_patches).tolist() == [[0, 1], [1, 2], [1, 2], [1, 2], [1, 3]]
