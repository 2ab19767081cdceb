/* The renderer's per-strip loops over pixels and characters, where numpy would need a dozen passes.
 *
 * Built into _kernels.so by packages/renderer/hatch_build.py and called through cffi (kernels.py); kernels.h
 * declares them for both. Plain C on raw buffers: no Python API. Float arithmetic is IEEE single precision,
 * operation for operation as the numpy reference path does it (do not build with -ffast-math or FP
 * contraction).
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

#define PANGO_GLYPH_UNKNOWN_FLAG 0x10000000u /* Pango marks a glyph for a character the font lacks with it */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* d = max(d - a, 0) over n bytes: white minus ink, with the ink of overlapping glyphs added saturating
 * (255 - min(255, (255 - d) + a) is max(d - a, 0)). */
static void subtract_saturating(uint8_t *d, const uint8_t *a, int64_t n) {
    int64_t j = 0;
#if defined(__SSE2__)
    for (; j + 16 <= n; j += 16) {
        __m128i v = _mm_subs_epu8(_mm_loadu_si128((const __m128i *)(d + j)), _mm_loadu_si128((const __m128i *)(a + j)));
        _mm_storeu_si128((__m128i *)(d + j), v);
    }
#endif
    for (; j < n; j++) d[j] = a[j] >= d[j] ? 0 : (uint8_t)(d[j] - a[j]);
}

/* Logical width of a text of k units: every unit's advance but the last, which counts without its space. */
int64_t units_width(const int64_t *ids, int64_t k, const int64_t *meta) {
    int64_t w = 0;
    for (int64_t i = 0; i + 1 < k; i++) w += meta[ids[i] * NMETA + ADV];
    return k ? w + meta[ids[k - 1] * NMETA + TOK] : 0;
}

/* Put k units into a column-major strip from column x: their columns, clipped at `limit`, then the ink they
 * spill outside their advance, added saturating (as cairo adds the glyph masks of one run). */
void put_units(uint8_t *strip, int P, int64_t x, int64_t limit, const int64_t *ids, int64_t k,
               const int64_t *meta, const uint8_t *grey, const int32_t *spill_col, const uint8_t *spill_alpha) {
    int64_t at = x;
    for (int64_t i = 0; i < k && at < limit; i++) {
        const int64_t *m = meta + ids[i] * NMETA;
        int64_t n = m[ADV] < limit - at ? m[ADV] : limit - at;
        memcpy(strip + at * P, grey + m[COL0] * P, (size_t)(n * P));
        at += m[ADV];
    }
    at = x;
    for (int64_t i = 0; i < k && at < limit + P; i++) {  /* spills reach less than a patch */
        const int64_t *m = meta + ids[i] * NMETA;
        for (int64_t s = m[SP0]; s < m[SP0] + m[SPN]; s++) {
            int64_t col = at + spill_col[s];
            if (col < 0 || col >= limit) continue;
            subtract_saturating(strip + col * P, spill_alpha + s * P, P);
        }
        at += m[ADV];
    }
}

/* Character extents of a composed text, px from its start: the units' stored extents plus each unit's x. */
void unit_extents(const int64_t *ids, int64_t k, const int64_t *meta, const float *ext, int64_t n_chars,
                  float *out) {
    int64_t at = 0, c = 0;
    for (int64_t i = 0; i < k && c < n_chars; i++) {
        const int64_t *m = meta + ids[i] * NMETA;
        const float *e = ext + 2 * m[EXT0];
        float s = (float)at;
        for (int64_t j = 0; j < m[NCH] && c < n_chars; j++, c++) {
            out[2 * c] = e[2 * j] + s;
            out[2 * c + 1] = e[2 * j + 1] + s;
        }
        at += m[ADV];
    }
}

/* A character's half-open patch range from its extents (px, from x): floor((left + x) / P), ceil((right + x) / P)
 * (the floor for a character without width), clipped to [0, n_text]; float steps as numpy's float32 ones. */
static void patch_range(float left, float right, float fx, float fp, float top, int32_t *out) {
    float l = (left + fx) / fp, r = (right + fx) / fp;
    float p0 = floorf(l), p1 = r > l ? ceilf(r) : floorf(r);
    out[0] = (int32_t)(p0 < 0 ? 0 : p0 > top ? top : p0);
    out[1] = (int32_t)(p1 < 0 ? 0 : p1 > top ? top : p1);
}

/* Each character's half-open patch range, as Renderer._char_patches computes it from unit_extents' values:
 * floor((left + x) / P), ceil((right + x) / P) (the floor for a character without width), in [0, n_text]. */
void unit_char_patches(const int64_t *ids, int64_t k, const int64_t *meta, const float *ext, int64_t n_chars,
                       int64_t x, int P, int64_t n_text, int32_t *out) {
    int64_t at = 0, c = 0;
    float fx = (float)x, fp = (float)P, top = (float)n_text;
    for (int64_t i = 0; i < k && c < n_chars; i++) {
        const int64_t *m = meta + ids[i] * NMETA;
        const float *e = ext + 2 * m[EXT0];
        float s = (float)at;
        for (int64_t j = 0; j < m[NCH] && c < n_chars; j++, c++) {
            patch_range(e[2 * j] + s, e[2 * j + 1] + s, fx, fp, top, out + 2 * c);
        }
        at += m[ADV];
    }
}

#if defined(__SSE2__)
/* 16x16 bytes: dst row j = byte j of each of the 16 source rows (a column-major patch -> row-major). */
static void transpose16(const uint8_t *src, uint8_t *dst) {
    __m128i a[16], b[16];
    for (int i = 0; i < 16; i++) a[i] = _mm_loadu_si128((const __m128i *)(src + 16 * i));
    for (int p = 0; p < 8; p++) {  /* 8-bit pairs of rows 2p, 2p+1: columns 0-7, 8-15 */
        b[2 * p] = _mm_unpacklo_epi8(a[2 * p], a[2 * p + 1]);
        b[2 * p + 1] = _mm_unpackhi_epi8(a[2 * p], a[2 * p + 1]);
    }
    for (int q = 0; q < 4; q++)  /* 16-bit: rows 4q..4q+3, column groups of 4 */
        for (int h = 0; h < 2; h++) {
            __m128i x = b[4 * q + h], y = b[4 * q + 2 + h];
            a[4 * q + 2 * h] = _mm_unpacklo_epi16(x, y);
            a[4 * q + 2 * h + 1] = _mm_unpackhi_epi16(x, y);
        }
    for (int h = 0; h < 2; h++)  /* 32-bit: rows 8h..8h+7, column pairs */
        for (int g = 0; g < 4; g++) {
            __m128i x = a[8 * h + g], y = a[8 * h + 4 + g];
            b[8 * h + 2 * g] = _mm_unpacklo_epi32(x, y);
            b[8 * h + 2 * g + 1] = _mm_unpackhi_epi32(x, y);
        }
    for (int m = 0; m < 8; m++) {  /* 64-bit: whole columns */
        _mm_storeu_si128((__m128i *)(dst + 16 * (2 * m)), _mm_unpacklo_epi64(b[m], b[8 + m]));
        _mm_storeu_si128((__m128i *)(dst + 16 * (2 * m + 1)), _mm_unpackhi_epi64(b[m], b[8 + m]));
    }
}
#endif

/* A column-major strip of n * P columns -> n row-major patches. */
void columns_to_patches(const uint8_t *strip, int64_t n, int P, uint8_t *out) {
#if defined(__SSE2__)
    if (P == 16) {
        for (int64_t p = 0; p < n; p++) transpose16(strip + p * 256, out + p * 256);
        return;
    }
#endif
    for (int64_t p = 0; p < n; p++) {
        const uint8_t *s = strip + p * P * P;
        uint8_t *d = out + p * P * P;
        for (int r = 0; r < P; r++)
            for (int c = 0; c < P; c++) d[r * P + c] = s[c * P + r];
    }
}

/* One channel of a cairo RGB24 surface (4 bytes a pixel, `stride` bytes a row, P rows) -> n patches. */
void surface_patches(const uint8_t *surface, int64_t stride, int P, int64_t n, int channel, uint8_t *out) {
#if defined(__SSE2__)
    if (P == 16) {  /* 16 pixels (64 bytes) -> their 16 channel bytes: shift, mask, pack */
        const __m128i mask = _mm_set1_epi32(0xFF), shift = _mm_cvtsi32_si128(8 * channel);
        for (int r = 0; r < 16; r++)
            for (int64_t p = 0; p < n; p++) {
                const __m128i *s = (const __m128i *)(surface + r * stride + 64 * p);
                __m128i a[4];
                for (int i = 0; i < 4; i++) a[i] = _mm_and_si128(_mm_srl_epi32(_mm_loadu_si128(s + i), shift), mask);
                __m128i v = _mm_packus_epi16(_mm_packs_epi32(a[0], a[1]), _mm_packs_epi32(a[2], a[3]));
                _mm_storeu_si128((__m128i *)(out + 256 * p + 16 * r), v);
            }
        return;
    }
#endif
    for (int r = 0; r < P; r++)
        for (int64_t p = 0; p < n; p++) {
            const uint8_t *s = surface + r * stride + 4 * p * P + channel;
            uint8_t *d = out + p * P * P + r * P;
            for (int c = 0; c < P; c++) d[c] = s[4 * c];
        }
}

/* One channel of columns [0, ncols) of a cairo RGB24 surface -> a column-major strip (ncols, P). */
void surface_columns(const uint8_t *surface, int64_t stride, int P, int64_t ncols, int channel, uint8_t *out) {
    for (int r = 0; r < P; r++) {
        const uint8_t *s = surface + r * stride + channel;
        for (int64_t x = 0; x < ncols; x++) out[x * P + r] = s[4 * x];
    }
}

static int inked(const uint8_t *col, int P) {
    for (int r = 0; r < P; r++)
        if (col[r] != 255) return 1;
    return 0;
}

static int any_ink(const uint8_t *grey, int P, int64_t from, int64_t to) {
    for (int64_t x = from; x < to; x++)
        if (inked(grey + x * P, P)) return 1;
    return 0;
}

/* Units drawn apart in a column-major strip, unit i at [o[i], e[i]), `gap` px between neighbours. bad[i] = 1
 * where ink reaches the middle of a gap beside unit i (then its spills cannot be told from a neighbour's).
 * For the others, the inked columns within `half` px left of o[i] or right of e[i] go to spill_col (relative
 * to o[i]) and their ink (255 - grey) to spill_alpha (P bytes each), spill_n[i] of them. Returns the number
 * written, or -1 if more than cap. */
int64_t find_spills(const uint8_t *grey, int P, const int64_t *o, const int64_t *e, int64_t k, int64_t gap,
                    int64_t half, uint8_t *bad, int64_t *spill_n, int32_t *spill_col, uint8_t *spill_alpha,
                    int64_t cap) {
    memset(bad, 0, (size_t)k);
    for (int64_t i = 0; i <= k; i++) {  /* gap i lies before unit i */
        int64_t from = i == 0 ? 0 : e[i - 1] + half;
        int64_t to = i == k ? e[k - 1] + gap - half : o[i] - half;
        if (any_ink(grey, P, from, to)) {
            if (i > 0) bad[i - 1] = 1;
            if (i < k) bad[i] = 1;
        }
    }
    int64_t w = 0;
    for (int64_t i = 0; i < k; i++) {
        spill_n[i] = 0;
        if (bad[i]) continue;
        for (int side = 0; side < 2; side++) {
            int64_t from = side ? e[i] : o[i] - half, to = side ? e[i] + half : o[i];
            for (int64_t x = from; x < to; x++) {
                if (!inked(grey + x * P, P)) continue;
                if (w == cap) return -1;
                for (int r = 0; r < P; r++) spill_alpha[w * P + r] = (uint8_t)(255 - grey[x * P + r]);
                spill_col[w++] = (int32_t)(x - o[i]);
                spill_n[i]++;
            }
        }
    }
    return w;
}

/* dst = the rows src[start[i] : start[i] + count[i]] for i < k, one after another (rows of row_bytes). dst may
 * be src itself, compacting it in place, when the ranges are in order. */
void copy_rows(uint8_t *dst, const uint8_t *src, const int64_t *start, const int64_t *count, int64_t k,
               int64_t row_bytes) {
    for (int64_t i = 0; i < k; i++) {
        size_t n = (size_t)(count[i] * row_bytes);
        memmove(dst, src + start[i] * row_bytes, n);
        dst += n;
    }
}

/* A batch of units "token token ... token " (UTF-8, nbytes) shaped as one run: w[c] is character c's advance in
 * Pango units (1024 a px); glyphs are the run's n_glyphs glyph records, clusters their first bytes (ascending). Moves every unit gap px further right than the one before by
 * widening its space's glyph, and fills per unit: x in the drawing (o, the first at gap), advance of
 * token + space (adv) and of the token (tok), characters (nch); per character: its extents in px from its
 * unit's x (rel, float32 pairs, as numpy's float64 division rounded to float32; a unit's first character is
 * first[i]; k units at most). Returns the number of units, -1 if a space has no glyph of its own (or there
 * are more than k), -2 if a glyph is unknown (a character the font lacks). */
int64_t place_units(const char *text_chars, int64_t nbytes, const int32_t *w, PangoGlyphInfo *glyphs,
                    const int32_t *clusters, int64_t n_glyphs, int64_t gap, int64_t k, int64_t *o, int64_t *adv,
                    int64_t *tok, int64_t *nch, int64_t *first, float *rel) {
    const uint8_t *text = (const uint8_t *)text_chars;
    int64_t u = 0, c = 0, g = 0, cs = 0, unit_chars = 0;
    for (int64_t i = 0; i < n_glyphs; i++)
        if (glyphs[i].glyph & PANGO_GLYPH_UNKNOWN_FLAG) return -2;
    int64_t start = 0;  /* the unit's x without gaps, px */
    for (int64_t b = 0; b < nbytes; b++) {
        if ((text[b] & 0xC0) == 0x80) continue;  /* a UTF-8 continuation byte */
        int64_t before = cs - start * 1024;
        cs += w[c];
        rel[2 * c] = (float)((double)before / 1024.0);
        rel[2 * c + 1] = (float)((double)(cs - start * 1024) / 1024.0);
        unit_chars++;
        if (text[b] == ' ') {
            if (u == k) return -1;
            int64_t after_space = cs / 1024, after_tok = (cs - w[c]) / 1024;
            adv[u] = after_space - start;
            tok[u] = unit_chars > 1 ? after_tok - start : 0;
            o[u] = start + gap * (u + 1);
            nch[u] = unit_chars;
            first[u] = c + 1 - unit_chars;
            while (g < n_glyphs && clusters[g] < b) g++;
            if (g == n_glyphs || clusters[g] != b) return -1;
            glyphs[g].geometry.width += (int32_t)(gap * 1024);
            start = after_space;
            unit_chars = 0;
            u++;
        }
        c++;
    }
    return u;
}

/* The runs of one laid-out line (in visual order, from pango_layout_get_line_readonly): each character's
 * logical x-range in px (ext, n_chars float32 pairs, as numpy's int64 / 1024.0 rounded to float32; characters
 * no run covers get [width, width)), and the distinct fonts the runs use (*n_fonts of them; *overflow = 1 if
 * there were more than font_cap).
 * scratch: 2 * nbytes int32. Returns the number of runs. */
int64_t line_extents(const RunList *runs, logical_widths_fn get_widths, const char *text, int64_t nbytes,
                     int64_t n_chars, int64_t width, int32_t *scratch, float *ext, void **fonts, int64_t font_cap,
                     int64_t *n_fonts, int64_t *overflow) {
    int32_t *by_byte = scratch, *char_of_byte = scratch + nbytes;
    int64_t c = -1, n_runs = 0, x = 0;
    for (int64_t b = 0; b < nbytes; b++) {
        if (((uint8_t)text[b] & 0xC0) != 0x80) c++;
        char_of_byte[b] = (int32_t)c;
    }
    for (int64_t i = 0; i < n_chars; i++) ext[2 * i] = ext[2 * i + 1] = (float)width;
    *n_fonts = *overflow = 0;
    for (const RunList *node = runs; node; node = node->next, n_runs++) {
        PangoGlyphItem *run = node->data;
        const PangoItem *item = run->item;
        int32_t *w = by_byte + item->offset;  /* a run has no more characters than bytes: no overlap */
        get_widths(run, text, w);
        int64_t run_w = 0;
        for (int j = 0; j < item->num_chars; j++) run_w += w[j];
        int64_t c0 = char_of_byte[item->offset], at = item->analysis.level & 1 ? x + run_w : x;
        for (int j = 0; j < item->num_chars && c0 + j < n_chars; j++) {
            int64_t left;
            if (item->analysis.level & 1) {
                at -= w[j];
                left = at;
            } else {
                left = at;
                at += w[j];
            }
            ext[2 * (c0 + j)] = (float)((double)left / 1024.0);
            ext[2 * (c0 + j) + 1] = (float)((double)(left + w[j]) / 1024.0);
        }
        x += run_w;
        int64_t f = 0;
        while (f < *n_fonts && fonts[f] != item->analysis.font) f++;
        if (f == *n_fonts) {
            if (f == font_cap) *overflow = 1;
            else fonts[(*n_fonts)++] = item->analysis.font;
        }
    }
    return n_runs;
}

/* Metadata rows for k new units whose grey columns, extents and spills are stored in order from the given
 * bases of their arenas. */
void fill_meta(int64_t *meta, int64_t k, const int64_t *adv, const int64_t *tok, const int64_t *nch,
               const int64_t *spill_n, const int64_t *key_n, int64_t col, int64_t ext, int64_t spill, int64_t key) {
    for (int64_t i = 0; i < k; i++) {
        int64_t *m = meta + i * NMETA;
        m[ADV] = adv[i], m[TOK] = tok[i], m[NCH] = nch[i], m[SPN] = spill_n[i], m[KEYN] = key_n[i];
        m[COL0] = col, m[EXT0] = ext, m[SP0] = spill, m[KEY0] = key;
        col += adv[i], ext += nch[i], spill += spill_n[i], key += key_n[i];
    }
}

/* Draw a glyph string (n_glyphs glyph records) from cached glyph masks into a column-major grey strip that starts white: glyph i's origin at column
 * x0 + (the widths before it + its x offset) / 1024, its mask added to the ink already there, saturating (as
 * cairo adds the glyph masks of one run). gm holds 3 int64 per glyph id: first row of its mask in masks, its
 * first column relative to the origin, its columns; a first row < 0: no mask cached. Returns 0, or -1 (and
 * draws nothing useful) where a glyph has no mask, a y offset, a place off the pixel grid or outside the strip. */
int64_t draw_glyphs(uint8_t *grey, int64_t ncols, int P, int64_t x0, const PangoGlyphInfo *glyphs,
                    int64_t n_glyphs, const int64_t *gm, int64_t n_gm, const uint8_t *masks) {
    int64_t x = 0;
    for (int64_t i = 0; i < n_glyphs; i++) {
        uint32_t id = glyphs[i].glyph;
        int32_t width = glyphs[i].geometry.width, x_off = glyphs[i].geometry.x_offset;
        int32_t y_off = glyphs[i].geometry.y_offset;
        if (id >= (uint64_t)n_gm || gm[3 * id] < 0 || y_off != 0 || (x + x_off) % 1024) return -1;
        const int64_t *m = gm + 3 * id;
        int64_t col = x0 + (x + x_off) / 1024 + m[1];
        if (col < 0 || col + m[2] > ncols) return -1;
        subtract_saturating(grey + col * P, masks + m[0] * P, m[2] * P);
        x += width;
    }
    return 0;
}

/* Renderer._char_patches: each of n characters' patch range (patch_range) from its extents. */
void ext_char_patches(const float *ext, int64_t n, int64_t x, int P, int64_t n_text, int32_t *out) {
    float fx = (float)x, fp = (float)P, top = (float)n_text;
    for (int64_t c = 0; c < n; c++) patch_range(ext[2 * c], ext[2 * c + 1], fx, fp, top, out + 2 * c);
}

/* For PIXEL's is_rtl: of a UTF-8 text's code points that are not ASCII whitespace, punctuation or digits, the
 * first, the middle one (index count / 2) and the last go to out; returns how many such code points there are. */
int64_t rtl_probes(const char *text_chars, int64_t nbytes, uint32_t *out) {
    const uint8_t *text = (const uint8_t *)text_chars;
    /* ASCII whitespace, punctuation and digits (Python's string.whitespace, .punctuation, .digits) */
    static const uint8_t skip[128] = {
        [32] = 1, [9] = 1, [10] = 1, [13] = 1, [11] = 1, [12] = 1, [33] = 1, [34] = 1, [35] = 1, [36] = 1,
        [37] = 1, [38] = 1, [39] = 1, [40] = 1, [41] = 1, [42] = 1, [43] = 1, [44] = 1, [45] = 1, [46] = 1,
        [47] = 1, [58] = 1, [59] = 1, [60] = 1, [61] = 1, [62] = 1, [63] = 1, [64] = 1, [91] = 1, [92] = 1,
        [93] = 1, [94] = 1, [95] = 1, [96] = 1, [123] = 1, [124] = 1, [125] = 1, [126] = 1, [48] = 1,
        [49] = 1, [50] = 1, [51] = 1, [52] = 1, [53] = 1, [54] = 1, [55] = 1, [56] = 1, [57] = 1};
    int64_t count = 0, want = -1;
    for (int pass = 0; pass < 2; pass++) {
        int64_t k = 0;
        for (int64_t b = 0; b < nbytes;) {
            uint32_t cp = text[b];
            int len = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
            if (len > 1) {
                cp &= 0x3F >> (len - 1);
                for (int i = 1; i < len && b + i < nbytes; i++) cp = (cp << 6) | (text[b + i] & 0x3F);
            }
            b += len;
            if (cp < 0x80 && skip[cp]) continue;
            if (pass == 0) {
                if (count == 0) out[0] = cp;
                out[2] = cp;
                count++;
            } else if (k++ == want) {
                out[1] = cp;
                return count;
            }
        }
        if (count == 0) return 0;
        want = count / 2;
    }
    return count;
}

/* The unit table: open addressing over a power-of-two number of int64 slots, each 0 (empty) or
 * (hash >> 32) << 32 | (id + 1); a unit's key (its token's UTF-8 bytes) is keys[KEY0 : KEY0 + KEYN]. */
static uint64_t hash_bytes(const uint8_t *p, int64_t n) {  /* FNV-1a, 64 bits */
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int64_t find(const int64_t *slots, int64_t mask, const int64_t *meta, const uint8_t *keys, const uint8_t *p,
                    int64_t n) {
    uint64_t h = hash_bytes(p, n), tag = h >> 32;
    for (int64_t i = (int64_t)(h & (uint64_t)mask);; i = (i + 1) & mask) {
        uint64_t s = (uint64_t)slots[i];
        if (s == 0) return -1;
        if (s >> 32 != tag) continue;
        const int64_t *m = meta + ((int64_t)(s & 0xFFFFFFFFu) - 1) * NMETA;
        if (m[KEYN] == n && memcmp(keys + m[KEY0], p, (size_t)n) == 0) return (int64_t)(s & 0xFFFFFFFFu) - 1;
    }
}

/* Enter units first .. first + k - 1 (their keys already stored) into the table. The caller keeps it under
 * half full. */
void insert_units(int64_t *slots, int64_t mask, const int64_t *meta, const uint8_t *keys, int64_t first, int64_t k) {
    for (int64_t id = first; id < first + k; id++) {
        const int64_t *m = meta + id * NMETA;
        uint64_t h = hash_bytes(keys + m[KEY0], m[KEYN]);
        int64_t i = (int64_t)(h & (uint64_t)mask);
        while (slots[i] != 0) i = (i + 1) & mask;
        slots[i] = (int64_t)(((h >> 32) << 32) | (uint64_t)(id + 1));
    }
}

/* Split UTF-8 text at its spaces into tokens and look each up: ids[i] = token i's unit, or -1 if it has none.
 * Returns the number of tokens, or -1 if there are more than cap. */
int64_t lookup_tokens(const char *text, int64_t nbytes, const int64_t *slots, int64_t mask, const int64_t *meta,
                      const uint8_t *keys, int64_t *ids, int64_t cap) {
    int64_t n = 0, start = 0;
    for (int64_t b = 0; b <= nbytes; b++) {
        if (b < nbytes && text[b] != ' ') continue;
        if (n == cap) return -1;
        ids[n++] = find(slots, mask, meta, keys, (const uint8_t *)text + start, b - start);
        start = b + 1;
    }
    return n;
}
