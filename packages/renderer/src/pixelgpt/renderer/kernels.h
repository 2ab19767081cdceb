/* The contract between the C kernels and Python: kernels.c includes this file, so the compiler checks every
 * definition against it, and kernels.py declares exactly this text to cffi (lines starting with '#' left out),
 * so a signature cannot drift between the two. What each kernel computes is written above its definition in
 * kernels.c.
 *
 * Layouts: a column-major grey strip is (columns, P) uint8 (column x's P pixels, top to bottom, contiguous);
 * patches are (n, P, P) uint8, each patch row-major. UTF-8 text is (const char *, nbytes). */
#pragma once
#include <stdint.h>
#include "pango_structs.h"

/* A cached unit's metadata row: NMETA int64 columns (word_cache.py names them) */
enum { ADV, TOK, COL0, EXT0, NCH, SP0, SPN, KEY0, KEYN, NMETA };

typedef void (*logical_widths_fn)(PangoGlyphItem *glyph_item, const char *text, int *widths);

/* composing strips from cached units */
int64_t units_width(const int64_t *ids, int64_t k, const int64_t *meta);
void put_units(uint8_t *strip, int P, int64_t x, int64_t limit, const int64_t *ids, int64_t k,
               const int64_t *meta, const uint8_t *grey, const int32_t *spill_col, const uint8_t *spill_alpha);
void unit_extents(const int64_t *ids, int64_t k, const int64_t *meta, const float *ext, int64_t n_chars,
                  float *out);
void unit_char_patches(const int64_t *ids, int64_t k, const int64_t *meta, const float *ext, int64_t n_chars,
                       int64_t x, int P, int64_t n_text, int32_t *out);

/* the unit store */
void fill_meta(int64_t *meta, int64_t k, const int64_t *adv, const int64_t *tok, const int64_t *nch,
               const int64_t *spill_n, const int64_t *key_n, int64_t col, int64_t ext, int64_t spill, int64_t key);
void copy_rows(uint8_t *dst, const uint8_t *src, const int64_t *start, const int64_t *count, int64_t k,
               int64_t row_bytes);
void insert_units(int64_t *slots, int64_t mask, const int64_t *meta, const uint8_t *keys, int64_t first,
                  int64_t k);
int64_t lookup_tokens(const char *text, int64_t nbytes, const int64_t *slots, int64_t mask, const int64_t *meta,
                      const uint8_t *keys, int64_t *ids, int64_t cap);

/* making new units: placing a shaped run, drawing it from glyph masks, finding spilled ink */
int64_t place_units(const char *text, int64_t nbytes, const int32_t *w, PangoGlyphInfo *glyphs,
                    const int32_t *clusters, int64_t n_glyphs, int64_t gap, int64_t k, int64_t *o, int64_t *adv,
                    int64_t *tok, int64_t *nch, int64_t *first, float *rel);
int64_t draw_glyphs(uint8_t *grey, int64_t ncols, int P, int64_t x0, const PangoGlyphInfo *glyphs,
                    int64_t n_glyphs, const int64_t *gm, int64_t n_gm, const uint8_t *masks);
int64_t find_spills(const uint8_t *grey, int P, const int64_t *o, const int64_t *e, int64_t k, int64_t gap,
                    int64_t half, uint8_t *bad, int64_t *spill_n, int32_t *spill_col, uint8_t *spill_alpha,
                    int64_t cap);

/* reading a full layout: the surface, character extents, patch ranges, text direction */
void columns_to_patches(const uint8_t *strip, int64_t n, int P, uint8_t *out);
void surface_patches(const uint8_t *surface, int64_t stride, int P, int64_t n, int channel, uint8_t *out);
void surface_columns(const uint8_t *surface, int64_t stride, int P, int64_t ncols, int channel, uint8_t *out);
int64_t line_extents(const RunList *runs, logical_widths_fn get_widths, const char *text, int64_t nbytes,
                     int64_t n_chars, int64_t width, int32_t *scratch, float *ext, void **fonts, int64_t font_cap,
                     int64_t *n_fonts, int64_t *overflow);
void ext_char_patches(const float *ext, int64_t n, int64_t x, int P, int64_t n_text, int32_t *out);
int64_t rtl_probes(const char *text, int64_t nbytes, uint32_t *out);
