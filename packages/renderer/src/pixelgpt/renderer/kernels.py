"""The C kernels (kernels.c, compiled into _kernels.so when the package is built), called through cffi.

kernels.h declares them once, for the compiler and for cffi. Each wrapper takes numpy arrays and passes raw
pointers; cffi refuses an array that is not C-contiguous or whose dtype is not the C type's. Bounds are the
callers' invariants (the word cache's modules, renderer.py, layout.py), checked here only where cheap. cffi
drops the GIL around each call, so nothing here keeps state between calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelgpt.renderer._capi import declarations, ffi, pango

ffi.cdef(declarations("kernels.h"))  # the header kernels.c is compiled against
_path = Path(__file__).with_name("_kernels.so")
if not _path.exists():
    raise ImportError(f"{_path} is missing: build the package (`uv sync` / `make setup`; needs a C compiler)")
_lib = ffi.dlopen(str(_path))
_GET_WIDTHS = ffi.cast("logical_widths_fn", pango.pango_glyph_item_get_logical_widths)  # for line_extents

# A cached unit's metadata row: NMETA int64 columns, numbered by kernels.h (unit_store.py says what they hold)
ADV, TOK, COL0, EXT0, NCH, SP0, SPN, KEY0, KEYN, NMETA = (
    getattr(_lib, name) for name in "ADV TOK COL0 EXT0 NCH SP0 SPN KEY0 KEYN NMETA".split()
)
_C_TYPES = [(np.int64, "int64_t"), (np.int32, "int32_t"), (np.uint8, "uint8_t"), (np.float32, "float")]
_TYPES = {np.dtype(d): ffi.typeof(f"{c}[]") for d, c in _C_TYPES}


def _ptr(a: np.ndarray):
    """A C pointer to a C-contiguous array's data (cffi refuses any other buffer)."""
    return ffi.from_buffer(_TYPES[a.dtype], a)


def units_width(ids: np.ndarray, meta: np.ndarray) -> int:
    return int(_lib.units_width(_ptr(ids), len(ids), _ptr(meta)))


def put_units(strip, x, limit, ids, meta, grey, spill_col, spill_alpha) -> None:
    _lib.put_units(
        _ptr(strip), strip.shape[1], x, limit, _ptr(ids), len(ids), _ptr(meta), _ptr(grey), _ptr(spill_col),
        _ptr(spill_alpha),
    )  # fmt: skip


def unit_extents(ids, meta, ext, n_chars: int) -> np.ndarray:
    out = np.empty((n_chars, 2), np.float32)
    _lib.unit_extents(_ptr(ids), len(ids), _ptr(meta), _ptr(ext), n_chars, _ptr(out))
    return out


def unit_char_patches(ids, meta, ext, out: np.ndarray, x: int, P: int, n_text: int) -> None:
    _lib.unit_char_patches(_ptr(ids), len(ids), _ptr(meta), _ptr(ext), len(out), x, P, n_text, _ptr(out))


def columns_to_patches(strip: np.ndarray, n: int) -> np.ndarray:
    """Column-major strip ((>= n) * P, P) -> (n, P, P) row-major patches."""
    P = strip.shape[1]
    if len(strip) < n * P:
        raise ValueError("columns_to_patches: the strip is shorter than n patches")
    out = np.empty((n, P, P), np.uint8)
    _lib.columns_to_patches(_ptr(strip), n, P, _ptr(out))
    return out


def surface_patches(surface: np.ndarray, n: int, channel: int) -> np.ndarray:
    """One channel of a cairo RGB24 surface viewed as (P, stride / 4, 4) uint8 -> (n, P, P) patches."""
    P = surface.shape[0]
    if n * P > surface.shape[1]:
        raise ValueError("more patches than the surface holds")
    out = np.empty((n, P, P), np.uint8)
    _lib.surface_patches(_ptr(surface), surface.strides[0], P, n, channel, _ptr(out))
    return out


def surface_columns(surface: np.ndarray, ncols: int, channel: int) -> np.ndarray:
    """One channel of a cairo RGB24 surface's first ncols columns -> column-major (ncols, P)."""
    P = surface.shape[0]
    if ncols > surface.shape[1]:
        raise ValueError("more columns than the surface holds")
    out = np.empty((ncols, P), np.uint8)
    _lib.surface_columns(_ptr(surface), surface.strides[0], P, ncols, channel, _ptr(out))
    return out


def find_spills(grey, o, e, gap: int, half: int):
    """(bad (k,) bool, spill counts (k,), (spill columns relative to each unit's x, their ink (m, P)));
    see kernels.c."""
    k, P = len(o), grey.shape[1]
    bad, n = np.empty(k, np.uint8), np.empty(k, np.int64)
    cols, alpha = np.empty(2 * half * k, np.int32), np.empty((2 * half * k, P), np.uint8)
    w = _lib.find_spills(
        _ptr(grey), P, _ptr(o), _ptr(e), k, gap, half, _ptr(bad), _ptr(n), _ptr(cols), _ptr(alpha), len(cols)
    )
    return bad.view(bool), n, (cols[:w], alpha[:w])


def fill_meta(meta: np.ndarray, adv, tok, nch, spill_n, key_n, col: int, ext: int, spill: int, key: int):
    if meta.shape != (len(adv), NMETA):
        raise ValueError("fill_meta: one row a unit")
    arrays = (_ptr(a) for a in (adv, tok, nch, spill_n, key_n))
    _lib.fill_meta(_ptr(meta), len(adv), *arrays, col, ext, spill, key)


def insert_units(slots: np.ndarray, meta: np.ndarray, keys: np.ndarray, first: int, k: int) -> None:
    """Enter units first .. first + k - 1 into the unit table (slots: a power of two, under half full)."""
    _lib.insert_units(_ptr(slots), len(slots) - 1, _ptr(meta), _ptr(keys), first, k)


def lookup_tokens(text: bytes, slots: np.ndarray, meta: np.ndarray, keys: np.ndarray, n_tokens: int):
    """int64 (n_tokens,): the unit of each space-separated token of text, or -1 where it has none."""
    ids = np.empty(n_tokens, np.int64)
    got = _lib.lookup_tokens(
        text, len(text), _ptr(slots), len(slots) - 1, _ptr(meta), _ptr(keys), _ptr(ids), n_tokens
    )
    if got != n_tokens:
        raise ValueError("lookup_tokens: the text has another number of tokens")
    return ids


def copy_rows(dst: np.ndarray, src: np.ndarray, start: np.ndarray, count: np.ndarray, n: int) -> int:
    """dst[:n] = the row ranges src[start[i] : start[i] + count[i]], in order (n = count.sum(), in range:
    the caller's invariant, unchecked on this hot path); dst may be src (compaction). Returns n."""
    if dst.dtype != src.dtype or dst.shape[1:] != src.shape[1:] or len(dst) < n:
        raise ValueError("copy_rows: dst must be an array like src with room for the rows")
    _lib.copy_rows(
        ffi.from_buffer(dst), ffi.from_buffer(src), _ptr(start), _ptr(count), len(start), src.strides[0]
    )
    return n


def place_units(text: bytes, w: np.ndarray, glyphs, clusters: np.ndarray, k: int, gap: int):
    """For a shaped batch of k units: (o, adv, tok, nch, first) int64 (k,), rel float32 (characters, 2), or
    None where the batch cannot be cut into units; widens the units' space glyphs in place (glyphs: the glyph
    string's PangoGlyphInfo records). See kernels.c."""
    o, adv, tok, nch, first = (np.empty(k, np.int64) for _ in range(5))
    rel = np.empty((len(w), 2), np.float32)
    got = _lib.place_units(
        text, len(text), _ptr(w), glyphs, _ptr(clusters), len(clusters), gap, k,
        _ptr(o), _ptr(adv), _ptr(tok), _ptr(nch), _ptr(first), _ptr(rel),
    )  # fmt: skip
    if got < 0:
        return None  # a glyph the font lacks, or a space that is not a glyph of its own
    if got != k:
        raise ValueError(f"place_units: {got} units found in a batch of {k}")
    return o, adv, tok, nch, first, rel


def line_extents(runs, text: bytes, n_chars: int, width: int, scratch: np.ndarray):
    """(float32 (n_chars, 2) extents, [font addresses] or None if there were too many to list) of one laid-out
    line, given its runs (PangoLayoutLine.runs). See kernels.c."""
    ext = np.empty((n_chars, 2), np.float32)
    if len(scratch) < 2 * len(text):
        raise ValueError("line_extents: scratch needs 2 ints a byte")
    fonts, n = ffi.new("void *[64]"), ffi.new("int64_t[2]")  # (per call: C runs without the GIL)
    _lib.line_extents(
        runs,
        _GET_WIDTHS,
        text,
        len(text),
        n_chars,
        width,
        _ptr(scratch),
        _ptr(ext),
        fonts,
        len(fonts),
        n,
        n + 1,
    )
    return ext, None if n[1] else [int(ffi.cast("uintptr_t", fonts[i])) for i in range(n[0])]


def draw_glyphs(grey: np.ndarray, x0: int, glyphs, n_glyphs: int, gm, masks) -> bool:
    """Draw a glyph string (its PangoGlyphInfo records) from cached masks into a white column-major strip (see
    kernels.c); False if it cannot be (a glyph without a cached mask, with a y offset, or off the strip)."""
    return _lib.draw_glyphs(
        _ptr(grey), len(grey), grey.shape[1], x0, glyphs, n_glyphs, _ptr(gm), len(gm), _ptr(masks)
    ) == 0  # fmt: skip


def ext_char_patches(ext: np.ndarray, out: np.ndarray, x: int, P: int, n_text: int) -> None:
    """out[:len(ext)] = each character's patch range (see kernels.c; Renderer._char_patches)."""
    if len(out) < len(ext):
        raise ValueError("ext_char_patches: out is too short")
    _lib.ext_char_patches(_ptr(ext), len(ext), x, P, n_text, _ptr(out))


def rtl_probes(text: bytes) -> tuple[int, ...]:
    """The first, middle and last code points of UTF-8 text that are not ASCII whitespace, punctuation or
    digits (as many as there are, up to 3; PIXEL's is_rtl votes on them)."""
    probes = ffi.new("uint32_t[3]")
    n = _lib.rtl_probes(text, len(text), probes)
    return () if n == 0 else (probes[0], probes[1], probes[2])
