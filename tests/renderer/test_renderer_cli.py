"""pixelgpt-render writes a PNG: the strip at 1x, then the patches scaled up with boundaries drawn."""

import numpy as np
from PIL import Image

from pixelgpt.renderer.cli import GRID_LINE, main


def test_cli_writes_strip_and_grid(tmp_path, renderer, capsys):
    out = tmp_path / "x.png"
    assert main(["Hello world", "-o", str(out), "--scale", "3"]) == 0
    enc = renderer.render("Hello world")
    img = np.asarray(Image.open(out).convert("RGB"))
    n = len(enc.patches)
    np.testing.assert_array_equal(img[:16, : n * 16], enc.strip)  # the strip, 1:1
    cell = 16 * 3 + 1
    grid = img[24 : 24 + cell + 1]
    assert (grid[0, : n * cell] == GRID_LINE).all()  # boundary line over every patch
    np.testing.assert_array_equal(grid[1 : 1 + 48 : 3, 1 : 1 + 48 : 3], enc.patches[0])  # patch 0, 3x
    assert "text patches" in capsys.readouterr().out


def test_cli_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["bad\x00text", "-o", str(tmp_path / "y.png")]) == 2
    assert "U+0000" in capsys.readouterr().err
    assert not (tmp_path / "y.png").exists()


def test_cli_says_when_it_cut_the_text(tmp_path, capsys):
    assert main(["word " * 40, "-o", str(tmp_path / "z.png"), "--max-patches", "8"]) == 0
    err = capsys.readouterr().err
    assert "it was cut" in err and "--max-patches" in err
    assert main(["short", "-o", str(tmp_path / "s.png"), "--max-patches", "8"]) == 0
    assert "cut" not in capsys.readouterr().err
