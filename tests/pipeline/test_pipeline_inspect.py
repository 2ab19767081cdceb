"""pixelgpt-shards inspect on a rendered set: counts, hash check naming a corrupt shard, PNG strips, tofu."""

import io
import json
import os
import shutil

import numpy as np
from PIL import Image

from pixelgpt.dataset.shard_inspect import TOKEN_COLOURS, inspect, main
from pixelgpt.renderer.pictures import LABEL


def test_counts_hashes_and_strips(clean, tmp_path):
    out, summary = clean
    buf = io.StringIO()
    assert inspect(out, show=3, out=str(tmp_path / "png"), tofu=True, file=buf) == 0
    text = buf.getvalue()
    assert "hashes: all shards OK" in text
    for source in ("c4", "pes2o", "the-stack", "wikipedia"):
        assert source in text
    with open(os.path.join(out, "stats.json")) as f:
        chunks = json.load(f)["chunks"]
    sources = ("c4", "pes2o", "the-stack", "wikipedia")
    rows = [line.split() for line in text.splitlines() if line.split()[:1] and line.split()[0] in sources]
    assert sum(int(r[1]) for r in rows) == chunks == summary.chunks
    assert "LATIN" in text and "CJK" in text  # tofu table per script
    pngs = sorted(os.listdir(tmp_path / "png"))
    assert pngs == ["sample-00000.png", "sample-00001.png", "sample-00002.png"]
    img = Image.open(tmp_path / "png" / pngs[0])
    assert img.width == 64 * 16 * 2 or img.width % 32 == 0  # rows of up to 64 patches, scale 2
    pixels = np.asarray(img.convert("RGB"))
    band = pixels[LABEL + 16 * 2 + 2]  # the token band under the first line of the strip
    assert (band == TOKEN_COLOURS[0]).all(axis=-1).any() and (band == TOKEN_COLOURS[1]).all(axis=-1).any()


def test_a_corrupt_shard_is_named(clean, tmp_path, capsys):
    out, _ = clean
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shard = copy / "pes2o-00001" / "shard.00000.mds.zstd"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert main(["inspect", str(copy)]) == 1
    assert "CORRUPT shard: pes2o-00001/shard.00000.mds.zstd" in capsys.readouterr().out


def test_a_truncated_index_is_named(clean, tmp_path, capsys):
    out, _ = clean
    copy = tmp_path / "trunc"
    shutil.copytree(out, copy)
    data = (copy / "index.json").read_bytes()
    (copy / "index.json").write_bytes(data[: len(data) // 3])
    assert main(["inspect", str(copy)]) == 2
    assert f"{copy / 'index.json'}: broken JSON" in capsys.readouterr().out
