"""The C kernels against plain numpy / Python computations of the same thing, on random and hand-made
inputs."""

import numpy as np
import pytest

from pixelgpt.renderer import kernels


@pytest.mark.parametrize("P", [16, 8, 12])  # 16: the SSE2 path; the others: the plain loops
def test_columns_to_patches_is_a_per_patch_transpose(P):
    rng = np.random.default_rng(P)
    n = 37
    strip = rng.integers(0, 256, (n * P + 5, P), np.uint8)  # column-major, a few spare columns
    want = strip[: n * P].reshape(n, P, P).transpose(0, 2, 1)  # patch p, row r, col c = strip[p * P + c, r]
    np.testing.assert_array_equal(kernels.columns_to_patches(strip, n), want)


@pytest.mark.parametrize("P", [16, 12])
@pytest.mark.parametrize("channel", [0, 1, 2])
def test_surface_patches_and_columns_read_one_channel(P, channel):
    rng = np.random.default_rng(channel)
    n, stride_px = 9, 9 * P + 3  # rows padded beyond the patches, as cairo's stride may be
    surface = rng.integers(0, 256, (P, stride_px, 4), np.uint8)
    plane = surface[:, : n * P, channel]
    want = plane.reshape(P, n, P).transpose(1, 0, 2)
    np.testing.assert_array_equal(kernels.surface_patches(surface, n, channel), want)
    np.testing.assert_array_equal(kernels.surface_columns(surface, n * P - 4, channel), plane[:, :-4].T)


def test_find_spills_against_a_column_by_column_reading():
    P, gap, half = 16, 9, 4
    grey = np.full((200, P), 255, np.uint8)
    o = np.array([9, 40, 90, 150])
    e = np.array([30, 80, 140, 170])
    grey[o[0] : e[0], 3] = 0  # ink inside units: not spills
    grey[o[1] : e[1], 8] = 10
    grey[o[0] - 2, 5] = 100  # unit 0 spills 2 px left
    grey[e[1], 0] = 200  # unit 1 spills 1 px right...
    grey[e[1] + 3, 15] = 254  # ... and 4 px right, in the last byte of a column
    grey[e[2] + half + 1, 2] = 1  # ink in the middle of the gap after unit 2: units 2 and 3 are bad
    bad, n, (cols, alpha) = kernels.find_spills(grey, o, e, gap, half)

    inked = [bool((grey[x] != 255).any()) for x in range(len(grey))]
    want_bad = [False] * 4
    for i in range(5):  # gap i lies before unit i
        lo = 0 if i == 0 else e[i - 1] + half
        hi = e[3] + gap - half if i == 4 else o[i] - half
        if any(inked[lo:hi]):
            want_bad[max(i - 1, 0)] = want_bad[min(i, 3)] = True
    want_cols = []
    for i in range(4):
        if not want_bad[i]:
            side = [*range(o[i] - half, o[i]), *range(e[i], e[i] + half)]
            want_cols.append([x - o[i] for x in side if inked[x]])
        else:
            want_cols.append([])
    assert bad.tolist() == want_bad == [False, False, True, True]
    assert n.tolist() == [len(c) for c in want_cols] == [1, 2, 0, 0]
    assert cols.tolist() == [c for cs in want_cols for c in cs] == [-2, 40, 43]
    np.testing.assert_array_equal(alpha, 255 - grey[[o[0] - 2, e[1], e[1] + 3]])


def test_copy_rows_gathers_and_compacts_in_place():
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, (100, 16), np.uint8)
    start, count = np.array([3, 10, 40, 41, 90]), np.array([4, 0, 1, 6, 10])
    want = np.concatenate([src[s : s + c] for s, c in zip(start, count)])
    out = np.zeros((30, 16), np.uint8)
    assert kernels.copy_rows(out, src, start, count, int(count.sum())) == len(want)
    np.testing.assert_array_equal(out[: len(want)], want)
    kernels.copy_rows(src, src, start, count, int(count.sum()))  # in place: ranges in order move down
    np.testing.assert_array_equal(src[: len(want)], want)
    with pytest.raises(ValueError):
        kernels.copy_rows(np.zeros((3, 16), np.uint8), src, start, count, int(count.sum()))  # no room


def test_kernels_refuse_the_wrong_dtype():
    meta = np.zeros((4, kernels.NMETA), np.int64)
    with pytest.raises(TypeError):
        kernels.units_width(np.zeros(2, np.int32), meta)  # ids must be int64


def test_rtl_probes_pick_first_middle_and_last_kept_characters():
    import random
    import string

    skip = set(string.whitespace + string.punctuation + string.digits)
    pool = list("abc xyz 123 .,;!?()") + ["é", "ש", "م", "中", "😀", "\x00", "\u200f", "ß"]
    rng = random.Random(5)
    for _ in range(500):
        t = "".join(rng.choices(pool, k=rng.randint(0, 40)))
        kept = [ord(c) for c in t if c not in skip]
        want = (kept[0], kept[len(kept) // 2], kept[-1]) if kept else ()
        assert kernels.rtl_probes(t.encode()) == want, t


def test_unit_table_finds_every_key_and_nothing_else():
    import random

    rng = random.Random(2)
    alphabet = "abcdeéß中 "
    words = sorted({"".join(rng.choices(alphabet[:-1], k=rng.randint(0, 6))) for _ in range(300)})
    keys = [w.encode() for w in words]
    meta = np.zeros((len(keys), kernels.NMETA), np.int64)
    meta[:, kernels.KEYN] = [len(k) for k in keys]
    meta[:, kernels.KEY0] = np.cumsum(meta[:, kernels.KEYN]) - meta[:, kernels.KEYN]
    arena = np.frombuffer(b"".join(keys), np.uint8).copy()
    slots = np.zeros(1024, np.int64)  # a small table: long probe chains
    kernels.insert_units(slots, meta, arena, 0, len(keys))
    assert (slots != 0).sum() == len(keys)
    index = {w: i for i, w in enumerate(words)}
    for _ in range(200):
        tokens = rng.choices(words, k=rng.randint(1, 30)) + ["".join(rng.choices(alphabet[:-1], k=7))]
        rng.shuffle(tokens)
        text = " ".join(tokens)
        got = kernels.lookup_tokens(text.encode(), slots, meta, arena, text.count(" ") + 1)
        assert got.tolist() == [index.get(t, -1) for t in text.split(" ")]


def test_a_signature_that_drifts_from_the_header_does_not_compile(tmp_path):
    """kernels.c is compiled against kernels.h, the text cffi declares: a definition that no longer matches
    its declaration is a compile error, not silent memory corruption at run time."""
    import shutil
    import subprocess
    from pathlib import Path

    src = Path(kernels.__file__).parent
    for name in ("kernels.c", "kernels.h", "pango_structs.h"):
        shutil.copy(src / name, tmp_path / name)
    cmd = ["cc", "-std=c11", "-fsyntax-only", str(tmp_path / "kernels.c")]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    header = tmp_path / "kernels.h"
    drifted = "void copy_rows(uint8_t *dst, const uint8_t *src, const int64_t *start, const int32_t *count,"
    header.write_text(
        header.read_text().replace(drifted.replace("int32_t *count", "int64_t *count"), drifted)
    )
    assert drifted in header.read_text()
    compiled = subprocess.run(cmd, capture_output=True, text=True)
    assert compiled.returncode != 0 and "conflicting types for 'copy_rows'" in compiled.stderr.replace(
        "‘", "'"
    ).replace("’", "'")
