"""Raw C bindings (cffi, ABI mode) for the Pango/PangoCairo/cairo/fontconfig calls the renderer makes.

pangocffi's own declarations leave the structs we need opaque (or declare them wrongly), so the renderer
declares exactly the Pango 1.50 / cairo 1.16 / fontconfig 2.14 symbols it uses and opens the same shared
libraries pangocffi and cairocffi load. Calling C directly also keeps wrapper overhead off the hot path. The
struct layouts it reads are in pango_structs.h, which the C kernels (kernels.h) include too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cffi import FFI

# Pango picks a "sample language" for each script from PANGO_LANGUAGE (else LANGUAGE) the first time it needs
# one, and harfbuzz shapes Han differently for zh/ja/ko; pin it before libpango can read the environment.
os.environ["PANGO_LANGUAGE"] = "en"


def declarations(header: str) -> str:
    """A header of this package as cffi declarations: its text without the lines for the C preprocessor."""
    text = (Path(__file__).parent / header).read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


# One FFI for all of the renderer's C, so a struct pointer from Pango passes to a kernel as it is.
ffi = FFI()
ffi.cdef(declarations("pango_structs.h"))
ffi.cdef(
    """
    typedef int gboolean;
    typedef uint32_t gunichar;

    /* fontconfig */
    typedef struct _FcConfig FcConfig;
    typedef struct _FcPattern FcPattern;
    typedef struct _FcCharSet FcCharSet;
    typedef struct { int nfont; int sfont; FcPattern **fonts; } FcFontSet;
    typedef enum { FcSetSystem = 0, FcSetApplication = 1 } FcSetName;
    typedef enum { FcResultMatch, FcResultNoMatch, FcResultTypeMismatch, FcResultNoId, FcResultOutOfMemory }
        FcResult;
    FcConfig *FcConfigCreate(void);
    void FcConfigDestroy(FcConfig *config);
    int FcConfigParseAndLoad(FcConfig *config, const unsigned char *file, int complain);
    int FcConfigBuildFonts(FcConfig *config);
    int FcConfigAppFontAddFile(FcConfig *config, const unsigned char *file);
    FcFontSet *FcConfigGetFonts(FcConfig *config, FcSetName set);
    FcResult FcPatternGetString(const FcPattern *p, const char *object, int n, unsigned char **s);
    FcResult FcPatternGetInteger(const FcPattern *p, const char *object, int n, int *i);
    FcResult FcPatternGetCharSet(const FcPattern *p, const char *object, int n, FcCharSet **c);
    int FcCharSetHasChar(const FcCharSet *fcs, uint32_t ucs4);

    /* cairo */
    typedef struct _cairo cairo_t;
    typedef struct _cairo_surface cairo_surface_t;
    typedef struct _cairo_font_options cairo_font_options_t;
    cairo_surface_t *cairo_image_surface_create(int format, int width, int height);
    unsigned char *cairo_image_surface_get_data(cairo_surface_t *surface);
    int cairo_image_surface_get_stride(cairo_surface_t *surface);
    void cairo_surface_flush(cairo_surface_t *surface);
    void cairo_surface_destroy(cairo_surface_t *surface);
    int cairo_surface_status(cairo_surface_t *surface);
    cairo_t *cairo_create(cairo_surface_t *target);
    void cairo_destroy(cairo_t *cr);
    void cairo_set_source_rgb(cairo_t *cr, double red, double green, double blue);
    void cairo_rectangle(cairo_t *cr, double x, double y, double width, double height);
    void cairo_fill(cairo_t *cr);
    void cairo_paint(cairo_t *cr);
    void cairo_move_to(cairo_t *cr, double x, double y);
    cairo_font_options_t *cairo_font_options_create(void);
    void cairo_font_options_destroy(cairo_font_options_t *options);
    void cairo_font_options_set_antialias(cairo_font_options_t *options, int antialias);
    void cairo_font_options_set_subpixel_order(cairo_font_options_t *options, int subpixel_order);
    void cairo_font_options_set_hint_style(cairo_font_options_t *options, int hint_style);
    void cairo_font_options_set_hint_metrics(cairo_font_options_t *options, int hint_metrics);

    /* pango */
    typedef struct _PangoFontMap PangoFontMap;
    typedef struct _PangoContext PangoContext;
    typedef struct _PangoLayoutIter PangoLayoutIter;
    typedef struct _PangoFontDescription PangoFontDescription;
    typedef struct { int x; int y; int width; int height; } PangoRectangle;

    PangoLanguage *pango_language_from_string(const char *language);
    PangoContext *pango_font_map_create_context(PangoFontMap *fontmap);
    void pango_context_set_language(PangoContext *context, PangoLanguage *language);
    void pango_context_set_base_dir(PangoContext *context, int direction);
    void pango_context_set_round_glyph_positions(PangoContext *context, gboolean round_positions);
    PangoFontDescription *pango_font_description_from_string(const char *str);
    void pango_font_description_free(PangoFontDescription *desc);
    PangoLayout *pango_layout_new(PangoContext *context);
    void pango_layout_set_font_description(PangoLayout *layout, const PangoFontDescription *desc);
    void pango_layout_set_text(PangoLayout *layout, const char *text, int length);
    void pango_layout_set_auto_dir(PangoLayout *layout, gboolean auto_dir);
    void pango_layout_set_alignment(PangoLayout *layout, int alignment);
    void pango_layout_set_single_paragraph_mode(PangoLayout *layout, gboolean setting);
    void pango_layout_context_changed(PangoLayout *layout);
    void pango_layout_get_pixel_extents(PangoLayout *layout, PangoRectangle *ink_rect,
                                        PangoRectangle *logical_rect);
    int pango_layout_get_baseline(PangoLayout *layout);
    int pango_layout_get_unknown_glyphs_count(PangoLayout *layout);
    PangoLayoutIter *pango_layout_get_iter(PangoLayout *layout);
    PangoLayoutLine *pango_layout_get_line_readonly(PangoLayout *layout, int line);
    void pango_layout_iter_free(PangoLayoutIter *iter);
    PangoGlyphItem *pango_layout_iter_get_run_readonly(PangoLayoutIter *iter);
    void pango_glyph_item_get_logical_widths(PangoGlyphItem *glyph_item, const char *text, int *widths);
    PangoGlyphString *pango_glyph_string_new(void);
    void pango_glyph_string_free(PangoGlyphString *string);
    void pango_glyph_string_set_size(PangoGlyphString *string, int new_len);
    void pango_glyph_string_get_logical_widths(PangoGlyphString *glyphs, const char *text, int length,
                                               int embedding_level, int *logical_widths);
    void pango_shape_with_flags(const char *item_text, int item_length, const char *paragraph_text,
                                int paragraph_length, const PangoAnalysis *analysis, PangoGlyphString *glyphs,
                                int flags);
    int pango_unichar_direction(gunichar ch);
    void pango_font_get_glyph_extents(void *font, uint32_t glyph, PangoRectangle *ink_rect,
                                      PangoRectangle *logical_rect);

    /* pangocairo, pangoft2, gobject */
    PangoFontMap *pango_cairo_font_map_new(void);
    void pango_cairo_context_set_font_options(PangoContext *context, const cairo_font_options_t *options);
    void pango_cairo_update_context(cairo_t *cr, PangoContext *context);
    void pango_cairo_show_layout(cairo_t *cr, PangoLayout *layout);
    void pango_cairo_show_glyph_string(cairo_t *cr, void *font, PangoGlyphString *glyphs);
    void pango_fc_font_map_set_config(PangoFontMap *fcfontmap, FcConfig *fcconfig);
    void g_object_unref(void *object);
    void *g_object_ref(void *object);

    /* harfbuzz: does a font have colour glyph tables (only those can draw anything but grey)? */
    typedef struct hb_font_t hb_font_t;
    typedef struct hb_face_t hb_face_t;
    hb_font_t *pango_font_get_hb_font(void *font);
    hb_face_t *hb_font_get_face(hb_font_t *font);
    int hb_ot_color_has_layers(hb_face_t *face);
    int hb_ot_color_has_png(hb_face_t *face);
    int hb_ot_color_has_svg(hb_face_t *face);
    int hb_ot_color_has_paint(hb_face_t *face);
    """
)

fontconfig = ffi.dlopen("libfontconfig.so.1")
cairo = ffi.dlopen("libcairo.so.2")
pango = ffi.dlopen("libpango-1.0.so.0")
pangocairo = ffi.dlopen("libpangocairo-1.0.so.0")
pangoft2 = ffi.dlopen("libpangoft2-1.0.so.0")
gobject = ffi.dlopen("libgobject-2.0.so.0")
harfbuzz = ffi.dlopen("libharfbuzz.so.0")


def font_has_colour(font) -> bool:
    """Whether a PangoFont has colour glyph tables (COLR, CBDT/sbix, SVG, or COLRv1 where harfbuzz has it)."""
    face = harfbuzz.hb_font_get_face(pango.pango_font_get_hb_font(font))
    checks = [harfbuzz.hb_ot_color_has_layers, harfbuzz.hb_ot_color_has_png, harfbuzz.hb_ot_color_has_svg]
    with contextlib.suppress(AttributeError):  # harfbuzz >= 7
        checks.append(harfbuzz.hb_ot_color_has_paint)
    return any(check(face) for check in checks)


PANGO_SCALE = 1024
PANGO_DIRECTION_LTR = 0
PANGO_DIRECTION_RTL = 1
PANGO_ALIGN_LEFT = 0
PANGO_ALIGN_RIGHT = 2
PANGO_SHAPE_ROUND_POSITIONS = 1
CAIRO_FORMAT_RGB24 = 1
CAIRO_ANTIALIAS_GRAY = 2
CAIRO_SUBPIXEL_ORDER_DEFAULT = 0
CAIRO_HINT_STYLE_SLIGHT = 2
CAIRO_HINT_METRICS_ON = 2
