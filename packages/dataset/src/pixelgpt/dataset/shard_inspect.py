"""`pixelgpt-shards inspect ROOT`: what a shard set (local folder or s3:// prefix) holds, and if it is intact.

    pixelgpt-shards inspect ROOT [--show N --out DIR] [--tofu]

Prints counts per source, patches and tokens per sample, the compression ratio; checks the xxh64 hash of every
shard file (naming any corrupt one; exit status 1); `--show N` writes N samples as PNG strips with token
boundaries drawn under them; `--tofu` re-renders every sample and reports unknown-glyph rates per script.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import unicodedata
from collections import Counter, defaultdict

import numpy as np
import xxhash

from pixelgpt.dataset import schema, storage


def check_hashes(root: str, index: dict) -> list[str]:
    """Basenames of shard files whose bytes do not match the index (missing files count as corrupt)."""
    bad = []
    for shard in index["shards"]:
        info = shard.get("zip_data") or shard["raw_data"]
        uri = storage.join(root, info["basename"])
        if not storage.exists(uri):
            bad.append(f"{info['basename']} (missing)")
            continue
        data = storage.read_bytes(uri)
        want = info["hashes"].get("xxh64")
        if len(data) != info["bytes"] or (want is not None and xxhash.xxh64(data).hexdigest() != want):
            bad.append(info["basename"])
    return bad


def _read_json(uri: str) -> dict:
    data = storage.read_bytes(uri)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{uri}: broken JSON ({len(data)} bytes; truncated or corrupt): {e}") from None


def iter_samples(root: str, cache: str):
    """Every sample of the set, in index order, through StreamingDataset (remote=root, scratch local=)."""
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=root, local=cache, shuffle=False, batch_size=1, validate_hash="xxh64")
    try:
        for i in range(ds.num_samples):
            yield schema.decode_sample(ds[i])
    finally:
        del ds


def script_of(text: str) -> str:
    """The most frequent script among the letters of `text` (first word of its Unicode name: LATIN, CJK)."""
    counts: Counter = Counter()
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "UNKNOWN")
            counts[name.split(" ")[0]] += 1
    return counts.most_common(1)[0][0] if counts else "NONE"


TOKEN_COLOURS = [(220, 40, 40), (40, 90, 220)]
LEGEND = (
    "under each strip: its tokens, alternately red and blue, under the characters they cover "
    "(grey ticks: patch boundaries; rows of 64 patches)"
)


def token_marks(sample: schema.Sample, tokenizer, renderer) -> list[tuple[int, int, tuple[int, int, int]]]:
    """Pixel spans of the sample's tokens at character level: the x-range of the characters each token
    covers (the renderer's character extents, the text starting 2 px into the strip). Special tokens cover no
    character and get no mark. Without a tokenizer or renderer: the stored patch ranges."""
    if tokenizer is None or renderer is None:
        return [
            (a * schema.PATCH, b * schema.PATCH, TOKEN_COLOURS[i % 2])
            for i, (a, b) in enumerate(sample.token_patches.tolist())
            if b > a
        ]
    ids, offsets = tokenizer.encode(sample.text)
    ext = renderer.char_extents(sample.text)
    marks = []
    for i, (s, e) in enumerate(offsets.tolist()):
        if e > s:
            x0, x1 = float(ext[s:e, 0].min()), float(ext[s:e, 1].max())
            marks.append(
                (int(round(x0)) + 2, max(int(round(x1)) + 2, int(round(x0)) + 3), TOKEN_COLOURS[i % 2])
            )
    return marks


def strip_png(sample: schema.Sample, path: str, tokenizer=None, renderer=None, scale: int = 2) -> None:
    """The sample's strip, wrapped into rows of 64 patches, labelled, with its tokens marked under it."""
    from pixelgpt.renderer.pictures import Row, rows_png

    label = (
        f"{sample.source} {sample.doc_id} chunk {sample.chunk}: {sample.num_patches} patches, "
        f"{len(sample.tokens)} tokens"
    )
    rows_png(
        [Row(label, sample.patches, token_marks(sample, tokenizer, renderer))],
        path,
        scale=scale,
        legend=LEGEND,
    )


def inspect(root: str, show: int = 0, out: str | None = None, tofu: bool = False, file=None) -> int:
    file = file or sys.stdout
    index_uri = storage.join(root, schema.INDEX_FILE)
    if not storage.exists(index_uri):
        print(
            f"{root}: no {schema.INDEX_FILE} (not a merged shard set, or the job did not finish)", file=file
        )
        return 2
    meta_uri = storage.join(root, schema.META_FILE)
    try:
        index = _read_json(index_uri)
        meta = schema.check_meta(_read_json(meta_uri), root) if storage.exists(meta_uri) else {}
    except (ValueError, schema.SchemaError) as e:
        print(str(e), file=file)
        return 2
    raw = sum(s["raw_data"]["bytes"] for s in index["shards"])
    stored = sum((s.get("zip_data") or s["raw_data"])["bytes"] for s in index["shards"])
    print(f"{root}: {len(index['shards'])} shards, {stored:,} bytes stored, {raw:,} raw", file=file)
    if meta:
        print(
            f"tokenizer {meta['tokenizer'].get('name')}  "
            f"renderer max_patches {meta['renderer'].get('max_patches')}",
            file=file,
        )
    bad = check_hashes(root, index)
    if bad:
        for name in bad:
            print(f"CORRUPT shard: {name}", file=file)
        return 1
    print("hashes: all shards OK (xxh64)", file=file)

    per_source: dict[str, Counter] = defaultdict(Counter)
    patches, tokens = [], []
    tofu_by_script: dict[str, Counter] = defaultdict(Counter)
    renderer = tokenizer = None
    if tofu or show:
        from pixelgpt.renderer import Renderer, RendererConfig

        renderer = Renderer(RendererConfig(**meta["renderer"])) if meta else Renderer(RendererConfig())
    if show:
        os.makedirs(out or ".", exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pixelgpt-inspect-") as cache:
        if show and meta:
            from pixelgpt.dataset.streaming import read_tokenizer

            try:
                tokenizer = read_tokenizer(root, cache)
            except FileNotFoundError:
                tokenizer = None  # the token marks fall back to the stored patch ranges
        for i, s in enumerate(iter_samples(root, cache)):
            per_source[s.source]["samples"] += 1
            per_source[s.source]["patches"] += s.num_patches
            per_source[s.source]["tokens"] += len(s.tokens)
            patches.append(s.num_patches)
            tokens.append(len(s.tokens))
            if i < show:
                strip_png(s, os.path.join(out or ".", f"sample-{i:05d}.png"), tokenizer, renderer)
            if tofu:
                c = tofu_by_script[script_of(s.text)]
                c["tofu"] += renderer.render(s.text).tofu
                c["chars"] += len(s.text)
    print(f"{'source':<12}{'samples':>9}{'patches':>11}{'tokens':>11}", file=file)
    for source in sorted(per_source):
        c = per_source[source]
        print(f"{source:<12}{c['samples']:>9}{c['patches']:>11}{c['tokens']:>11}", file=file)
    if patches:
        p, t = np.array(patches), np.array(tokens)
        print(f"patches/sample mean {p.mean():.1f} min {p.min()} max {p.max()}", file=file)
        print(f"tokens/sample  mean {t.mean():.1f} min {t.min()} max {t.max()}", file=file)
        print(f"compression    {raw / stored:.1f}x ({stored / p.sum():.1f} stored bytes/patch)", file=file)
    if tofu:
        print(f"{'script':<14}{'chars':>9}{'tofu':>7}{'rate':>9}", file=file)
        for script in sorted(tofu_by_script):
            c = tofu_by_script[script]
            print(
                f"{script:<14}{c['chars']:>9}{c['tofu']:>7}{c['tofu'] / max(1, c['chars']):>9.4f}", file=file
            )
    if show:
        print(f"wrote {min(show, len(patches))} PNG strips to {out or '.'}", file=file)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="pixelgpt-shards", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("inspect", help="counts, sizes, hash check, PNG strips, tofu rates")
    q.add_argument("root", help="shard set folder or s3://bucket/prefix")
    q.add_argument("--show", type=int, default=0, metavar="N", help="write N samples as PNG strips")
    q.add_argument("--out", default="shard-strips", help="folder for --show PNGs")
    q.add_argument("--tofu", action="store_true", help="unknown-glyph rates per script (re-renders samples)")
    args = p.parse_args(argv)
    return inspect(args.root, show=args.show, out=args.out, tofu=args.tofu)


if __name__ == "__main__":
    sys.exit(main())
