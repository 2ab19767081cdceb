"""Renderer throughput on one core: pixelgpt.renderer vs a naive PIXEL-style renderer vs the bare floor.

    uv run python bench/renderer.py [--chunks 1000] [--rounds 3] [--seed 0]

The sample is built here, deterministically: chunks of 1,500-2,300 characters, 70% English-like prose (words
drawn from a Zipfian 50,000-word vocabulary, so the word cache sees realistic misses), 20% code, 10% ten
non-Latin languages. Renderers:
  (a) Renderer            this package (word cache on): one pass from an empty cache ("cold"), and after a
                          pass over as many other chunks of the same kind ("warm", a long-running worker)
  (b) naive               PIXEL's way: new surface, cairo context, Pango context and layout for every call,
                          then the RGB strip -> (n, 16, 16, 3) patches (same fonts, same pixels)
  (c) floor               one reused layout: set text + show layout + a numpy view of the surface, no more
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time

import numpy as np

from pixelgpt.renderer import Renderer, RendererConfig, is_rtl
from pixelgpt.renderer import _capi as C
from pixelgpt.renderer.fonts import load_repo_fonts

MULTI = [
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία και τα υπόλοιπα.",
    "我能吞下玻璃而不伤身体。今天天气很好，我们去公园散步吧。",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ。東京は大きな都市です。",
    "다람쥐 헌 쳇바퀴에 타고파. 오늘은 날씨가 좋습니다.",
    "مرحبا بالعالم، كيف حالك اليوم؟ هذا نص عربي للاختبار.",
    "שלום עולם, מה שלומך היום? זהו טקסט בעברית.",
    "สวัสดีชาวโลก วันนี้อากาศดีมาก เราไปเที่ยวกันเถอะ",
    "नमस्ते दुनिया, आप कैसे हैं? आज मौसम बहुत अच्छा है।",
    "আমি কাঁচ খেতে পারি, তাতে আমার কোনো ক্ষতি হয় না।",
]
SYLLABLES = (
    "ka to ri an el us mon ter is or al en st pre con tion ed ing er ly ous ment th ch qu ble ver sh ar in"
).split()
COMMON = (
    "the of and to in a is that for it as was with be by on not he I this are or his from at which but "
    "have an they you were her she there been one all we their has would when if so no will more can its "
    "who said them some could him into than time only new two may first also after any these our"
).split()


def build_sample(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    vocab = []
    for _ in range(50_000):
        vocab.append("".join(rng.choice(SYLLABLES) for _ in range(rng.choice([1, 2, 2, 3, 3, 4]))))
    vocab = COMMON + vocab
    weights = [1 / (r + 1) for r in range(len(vocab))]
    cum = np.cumsum(weights)
    cum /= cum[-1]

    def word():
        return vocab[int(np.searchsorted(cum, rng.random()))]

    def prose(target):
        out, sentence = [], []
        while sum(map(len, out)) + len(out) < target:
            w = word()
            if not sentence:
                w = w.capitalize()
            sentence.append(w)
            if rng.random() < 0.08:
                sentence[-1] += rng.choice([",", ";", ""])
            if len(sentence) > rng.randint(8, 25):
                sentence[-1] += rng.choice([".", ".", ".", "?", "!"])
                if rng.random() < 0.1:
                    sentence.append(f"({rng.randint(1, 2024)})")
                out.append(" ".join(sentence))
                sentence = []
        return " ".join(out + sentence)[:target]

    def code(target):
        lines = []
        while sum(map(len, lines)) < target:
            a, b, c = word(), word(), word()
            lines.append(
                rng.choice(
                    [
                        f"def {a}_{b}(self, {c}: int = {rng.randint(0, 99)}) -> list[str]:",
                        f"    {a} = self.{b}({c}, key=lambda x: x[{rng.randint(0, 9)}])  # {word()} {word()}",
                        f"    if {a} is not None and len({b}) > {rng.randint(1, 64)}:",
                        f"        return {{'{a}': {b}, \"{c}\": [{rng.random():.3f}, None]}}",
                        f"for (int i = 0; i < {b}; ++i) {{ {c} += {a}[i]; }}",
                    ]
                )
            )
        return "  ".join(lines)[:target]

    def multi(target):
        s = []
        while sum(map(len, s)) < target:
            s.append(rng.choice(MULTI))
        return " ".join(s)[:target]

    sample = []
    for i in range(n):
        target = rng.randint(1500, 2300)
        kind = "prose" if i % 10 < 7 else "code" if i % 10 < 9 else "non-Latin"
        sample.append((kind, {"prose": prose, "code": code, "non-Latin": multi}[kind](target)))
    return sample


class Naive:
    """PIXEL's PangoCairoTextRenderer call pattern: everything created per call (raw C calls, same fonts)."""

    def __init__(self, cfg: RendererConfig):
        self.cfg = cfg
        fc, self.fonts = load_repo_fonts()
        self.fontmap = C.ffi.gc(C.pangocairo.pango_cairo_font_map_new(), C.gobject.g_object_unref)
        C.pangoft2.pango_fc_font_map_set_config(self.fontmap, fc)
        self.font = f"{self.fonts.family} {cfg.font_px}px".encode()

    def render(self, text: str) -> np.ndarray:
        P, W = self.cfg.patch_size, self.cfg.width_px
        text = text.replace("\n", " ")
        surface = C.cairo.cairo_image_surface_create(C.CAIRO_FORMAT_RGB24, W, P)
        cr = C.cairo.cairo_create(surface)
        C.cairo.cairo_set_source_rgb(cr, 1, 1, 1)
        C.cairo.cairo_paint(cr)
        C.cairo.cairo_set_source_rgb(cr, 0, 0, 0)
        ctx = C.pango.pango_font_map_create_context(self.fontmap)
        opts = C.cairo.cairo_font_options_create()
        C.cairo.cairo_font_options_set_antialias(opts, C.CAIRO_ANTIALIAS_GRAY)
        C.cairo.cairo_font_options_set_hint_style(opts, C.CAIRO_HINT_STYLE_SLIGHT)
        C.cairo.cairo_font_options_set_hint_metrics(opts, C.CAIRO_HINT_METRICS_ON)
        C.pangocairo.pango_cairo_context_set_font_options(ctx, opts)
        C.pango.pango_context_set_language(ctx, C.pango.pango_language_from_string(b"en"))
        rtl = is_rtl(text)  # PIXEL's direction rule, as the Renderer applies it
        C.pango.pango_context_set_base_dir(ctx, C.PANGO_DIRECTION_RTL if rtl else C.PANGO_DIRECTION_LTR)
        C.pangocairo.pango_cairo_update_context(cr, ctx)
        layout = C.pango.pango_layout_new(ctx)
        desc = C.pango.pango_font_description_from_string(self.font)
        C.pango.pango_layout_set_font_description(layout, desc)
        C.pango.pango_layout_set_auto_dir(layout, 0)
        C.pango.pango_layout_set_alignment(layout, C.PANGO_ALIGN_RIGHT if rtl else C.PANGO_ALIGN_LEFT)
        C.pango.pango_layout_set_single_paragraph_mode(layout, 1)
        b = text.encode()
        C.pango.pango_layout_set_text(layout, b, len(b))
        C.pango.pango_layout_get_unknown_glyphs_count(layout)
        logical = C.ffi.new("PangoRectangle *")
        C.pango.pango_layout_get_pixel_extents(layout, C.ffi.NULL, logical)
        C.cairo.cairo_move_to(cr, 2, P / 2 - logical.height / 2 - 2)
        C.pangocairo.pango_cairo_show_layout(cr, layout)
        eos = min(math.ceil((2 + logical.width + 2) / P) * P, W - P)
        C.cairo.cairo_surface_flush(surface)
        data = C.cairo.cairo_image_surface_get_data(surface)
        stride = C.cairo.cairo_image_surface_get_stride(surface)
        img = np.frombuffer(C.ffi.buffer(data, stride * P), np.uint8).reshape(P, stride // 4, 4)
        rgb = np.ascontiguousarray(img[:, :, 2::-1])  # PIXEL's get_image_from_surface
        rgb[:, eos : eos + P] = 0
        n = eos // P + 1
        patches = rgb[:, : n * P].reshape(P, n, P, 3).transpose(1, 0, 2, 3).copy()
        C.pango.pango_font_description_free(desc)
        C.gobject.g_object_unref(layout)
        C.gobject.g_object_unref(ctx)
        C.cairo.cairo_font_options_destroy(opts)
        C.cairo.cairo_destroy(cr)
        C.cairo.cairo_surface_destroy(surface)
        return patches


class Floor:
    """One reused layout: set text + show layout + a numpy view of the surface, nothing else."""

    def __init__(self, renderer: Renderer):
        self.lay = renderer._layout
        self.P = renderer.config.patch_size

    def render(self, text: str) -> np.ndarray:
        lay = self.lay
        b = text.encode()
        C.pango.pango_layout_set_text(lay.layout, b, len(b))
        C.cairo.cairo_move_to(lay.cr, 2, -3.5)
        C.pangocairo.pango_cairo_show_layout(lay.cr, lay.layout)
        C.cairo.cairo_surface_flush(lay.surface)
        return lay.pixels[:, :, :3]


def count_units(r: Renderer) -> int:
    """Units the renderer's word cache has had to lay out so far (its misses)."""
    return r._words.laid_out


def timed(fn, texts) -> float:
    """CPU seconds of this process for fn over texts (other processes on a shared machine do not count)."""
    t = time.process_time()
    for x in texts:
        fn(x)
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds, interleaved; the best round counts")
    ap.add_argument("--warmup", type=int, default=3000, help="chunks a warm worker has rendered before")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    sample = build_sample(args.chunks, args.seed)
    warmup = [t for _, t in build_sample(args.warmup, args.seed + 1)]  # same distribution, other chunks
    texts = [t for _, t in sample]
    cfg = RendererConfig()
    naive, reference = Naive(cfg), Renderer(RendererConfig(word_cache=False))
    floor = Floor(Renderer(RendererConfig(word_cache=False)))

    # correctness first: (a) and (b) give the same bytes as the plain full layout
    check = Renderer(cfg)
    for t in texts[:: max(1, len(texts) // 60)]:
        a, b = check.render(t), naive.render(t)
        assert a.patches.tobytes() == b.tobytes() == reference.render(t).patches.tobytes(), t[:80]

    patches = {kind: 0 for kind, _ in sample}
    for kind, t in sample:
        patches[kind] += reference.render(t).num_text_patches + 1
    total = sum(patches.values())
    names = ["(a) Renderer, cold cache", "(a) Renderer, warm cache", "(b) naive (PIXEL-style)", "(c) floor"]
    best = dict.fromkeys(names, float("inf"))
    by_kind, misses = {}, {}
    for _ in range(args.rounds):
        cold = Renderer(cfg)
        best[names[0]] = min(best[names[0]], timed(cold.render, texts))  # one pass from an empty cache
        misses[names[0]] = count_units(cold)
        warm = Renderer(cfg)
        timed(warm.render, warmup)  # a long-running worker: the cache has seen this many other chunks
        before = count_units(warm)
        best[names[1]] = min(best[names[1]], timed(warm.render, texts))
        misses[names[1]] = count_units(warm) - before
        best[names[2]] = min(best[names[2]], timed(naive.render, texts))
        best[names[3]] = min(best[names[3]], timed(floor.render, texts))
        for kind in patches:
            ts = [t for k, t in sample if k == kind]
            ta, tb = timed(warm.render, ts), timed(naive.render, ts)
            old = by_kind.get(kind, (float("inf"), float("inf")))
            by_kind[kind] = (min(old[0], ta), min(old[1], tb))
    naive_t, floor_t = best[names[2]], best[names[3]]
    counts = ", ".join(f"{k} {sum(1 for s, _ in sample if s == k)}" for k in patches)
    print(
        f"{len(texts)} chunks ({counts}), {total:,} patches, one core, CPU time, "
        f"best of {args.rounds} rounds\n"
    )
    units = sum(t.count(" ") + 1 for t in texts)  # a unit is a token and the space after it
    print(f"{units:,} word units in the sample; 'new units': those the cache had not seen before the pass\n")
    print("| renderer | chunks/s | patches/s | µs/patch | vs (b) naive | vs (c) floor | new units |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, t in best.items():
        new = f"{misses[name] / units:.1%}" if name in misses else ""
        print(
            f"| {name} | {len(texts) / t:,.0f} | {total / t:,.0f} | {t / total * 1e6:.2f} | "
            f"{naive_t / t:.2f}x | {floor_t / t:.2f}x | {new} |"
        )
    print("\nBy kind of text, (a) with every unit cached vs (b):\n")
    print("| kind | chunks | (a) patches/s | (b) patches/s | (a)/(b) |")
    print("|---|---:|---:|---:|---:|")
    for kind, (ta, tb) in by_kind.items():
        n = sum(1 for k, _ in sample if k == kind)
        print(f"| {kind} | {n} | {patches[kind] / ta:,.0f} | {patches[kind] / tb:,.0f} | {tb / ta:.2f}x |")


if __name__ == "__main__":
    main()
