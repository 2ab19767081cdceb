"""Strips as pictures: the patches -> strip layout, and wrapped, labelled rows with mark bands."""

import numpy as np
from PIL import Image

from pixelgpt.renderer.pictures import BAND, GAP, LABEL, Row, patches_to_strip, rows_png, strip_image


def test_patches_side_by_side():
    patches = np.arange(3 * 16 * 16, dtype=np.uint8).reshape(3, 16, 16, 1)
    strip = patches_to_strip(patches)
    assert strip.shape == (16, 48, 1)
    for i in range(3):  # patch i is columns 16i..16i+15, unchanged
        assert np.array_equal(strip[:, 16 * i : 16 * (i + 1)], patches[i])
    assert strip_image(patches).shape == (16, 48, 3)


def test_rows_wrap_label_and_mark(tmp_path):
    """70 patches at 8 per line: 9 lines, the last one padded; a red mark under patches 2-3 of line 1."""
    patches = np.full((70, 16, 16, 3), 255, np.uint8)
    patches[9, 5, 7] = (10, 20, 30)  # patch 9 = line 2 (index 1), patch 1 of it
    row = Row("a strip", patches, [(32, 64, (220, 0, 0))])
    path = rows_png([row], tmp_path / "x.png", per_row=8, scale=1, legend="legend line")
    image = np.asarray(Image.open(path).convert("RGB"))
    line = 16 + BAND + GAP
    assert image.shape == (LABEL + 9 * line + LABEL + 4, 8 * 16, 3)
    y, x = LABEL + line + 5, 16 + 7
    assert tuple(image[y, x]) == (10, 20, 30)
    band_y = LABEL + 16 + 1
    assert tuple(image[band_y, 40]) == (220, 0, 0) and tuple(image[band_y, 85]) == (255, 255, 255)
    assert tuple(image[band_y, 80]) == (200, 200, 200)  # a patch boundary
    last = LABEL + 8 * line  # the 9th line holds patches 64-69: the rest is padding
    assert tuple(image[last + 3, 6 * 16 + 3]) == (240, 240, 240)
    assert image[:LABEL].min() < 128  # the label is written
