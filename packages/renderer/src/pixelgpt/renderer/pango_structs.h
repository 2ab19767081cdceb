/* The Pango 1.x and GLib structs the renderer reads field by field: their public layouts, declared once for
 * both the C kernels (kernels.c includes this file) and the Python bindings (_capi.py reads it into cffi), so
 * the two cannot disagree. Opaque types are only ever handled by pointer. Plain declarations that C compilers
 * and cffi's parser both accept: no macros. */
#pragma once
#include <stdint.h>

typedef struct _PangoLayout PangoLayout;
typedef struct _PangoLanguage PangoLanguage;
typedef struct _GSList { void *data; struct _GSList *next; } GSList;

typedef struct { int32_t width; int32_t x_offset; int32_t y_offset; } PangoGlyphGeometry;
typedef struct { unsigned int is_cluster_start : 1; unsigned int is_color : 1; } PangoGlyphVisAttr;
typedef struct { uint32_t glyph; PangoGlyphGeometry geometry; PangoGlyphVisAttr attr; } PangoGlyphInfo;
typedef struct { int num_glyphs; PangoGlyphInfo *glyphs; int *log_clusters; int space; } PangoGlyphString;
typedef struct {
    void *shape_engine; void *lang_engine; void *font;
    uint8_t level; uint8_t gravity; uint8_t flags; uint8_t script;
    PangoLanguage *language; GSList *extra_attrs;
} PangoAnalysis;
typedef struct { int offset; int length; int num_chars; PangoAnalysis analysis; } PangoItem;
typedef struct {
    PangoItem *item; PangoGlyphString *glyphs; int y_offset; int start_x_offset; int end_x_offset;
} PangoGlyphItem;
typedef struct _RunList { PangoGlyphItem *data; struct _RunList *next; } RunList;  /* a GSList of runs */
typedef struct { PangoLayout *layout; int start_index; int length; RunList *runs; unsigned int flags; }
    PangoLayoutLine;
