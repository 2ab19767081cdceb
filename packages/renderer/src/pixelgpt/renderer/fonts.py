"""Fonts: a private fontconfig configuration that sees only the repo's chosen Debian Noto files.

`fonts.json` (beside this file) lists the files in fallback order with their family names and sha256;
`fonts.conf` is generated from it (`python -m pixelgpt.renderer.fonts --write`, maintainers only) and accepts
exactly those files. A Renderer loads the conf into its own FcConfig (never the process-global one), checks
the hashes and that fontconfig sees nothing else, so a font installed elsewhere cannot change a pixel.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from pixelgpt.renderer._capi import ffi, fontconfig

HERE = Path(__file__).parent
FONTS_JSON = HERE / "fonts.json"
FONTS_CONF = HERE / "fonts.conf"
FAMILY = "PixelGPT Sans"  # the alias the renderer asks Pango for; fontconfig expands it to the Noto list
NOTO_TTF = Path("/usr/share/fonts/truetype/noto")
NOTO_OTF = Path("/usr/share/fonts/opentype/noto")
SCALE_BITMAP_CONF = "/etc/fonts/conf.d/10-scale-bitmap-fonts.conf"

# Fallback order: Noto Sans, CJK (SC face first), the big RTL/Indic/Thai scripts, the other Noto Sans script
# fonts fonts-noto-core ships (alphabetical), then colour emoji.
_FIRST = ["NotoSans-Regular.ttf"]
_CJK = ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC")
_PRIORITY = ["Arabic", "Hebrew", "Thai", "Devanagari", "Bengali", "Tamil"]
_EMOJI = "NotoColorEmoji.ttf"


class FontError(RuntimeError):
    """The fonts on this machine are not the ones the repo's font list pins."""


@dataclass(frozen=True)
class FontSet:
    family: str  # what the Pango font description names
    files: tuple[str, ...]  # absolute paths, fallback order
    hashes: dict[str, str]  # path -> sha256


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return _sha256(path)


def file_sha256(path: str) -> str:
    """sha256 of a font file, computed once per process per (path, size, mtime)."""
    st = os.stat(path)
    return _sha256_cached(path, st.st_size, st.st_mtime_ns)


def _config_files(config, which: int) -> list[str]:
    fs = fontconfig.FcConfigGetFonts(config, which)
    out = []
    if fs == ffi.NULL:
        return out
    s = ffi.new("unsigned char **")
    for i in range(fs.nfont):
        if fontconfig.FcPatternGetString(fs.fonts[i], b"file", 0, s) == 0:
            out.append(ffi.string(s[0]).decode())
    return out


def _first_family(config, which: int, path: str) -> str:
    fs = fontconfig.FcConfigGetFonts(config, which)
    s = ffi.new("unsigned char **")
    idx = ffi.new("int *")
    best = None
    for i in range(fs.nfont):
        p = fs.fonts[i]
        fontconfig.FcPatternGetString(p, b"file", 0, s)
        if ffi.string(s[0]).decode() != path:
            continue
        fontconfig.FcPatternGetInteger(p, b"index", 0, idx)
        fontconfig.FcPatternGetString(p, b"family", 0, s)
        if best is None or idx[0] < best[0]:
            best = (idx[0], ffi.string(s[0]).decode())
    if best is None:
        raise FontError(f"fontconfig cannot read the font file {path}")
    return best[1]


def _gc_config(config):
    return ffi.gc(config, fontconfig.FcConfigDestroy)


def load_repo_fonts():
    """A private FcConfig built from fonts.conf, checked against fonts.json. Returns (FcConfig, FontSet)."""
    spec = json.loads(FONTS_JSON.read_text())
    files = tuple(f["file"] for f in spec["fonts"])
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise FontError(
            f"{len(missing)} pinned font file(s) are missing, e.g. {missing[0]}; install the Debian packages "
            "fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji (make setup)"
        )
    hashes = {}
    for f in spec["fonts"]:
        got = file_sha256(f["file"])
        if got != f["sha256"]:
            raise FontError(
                f"font file {f['file']} has sha256 {got}, but the repo pins {f['sha256']}: a different font "
                f"means different pixels. Install the pinned Debian package or update {FONTS_JSON.name}"
            )
        hashes[f["file"]] = got
    config = _gc_config(fontconfig.FcConfigCreate())
    if not fontconfig.FcConfigParseAndLoad(config, str(FONTS_CONF).encode(), 1):
        raise FontError(f"fontconfig could not load {FONTS_CONF}")
    if not fontconfig.FcConfigBuildFonts(config):
        raise FontError("fontconfig could not build the font list of the repo configuration")
    seen = set(_config_files(config, 0))
    if seen != set(files):
        extra, lost = sorted(seen - set(files)), sorted(set(files) - seen)
        raise FontError(f"fontconfig sees other fonts than pinned: extra {extra[:3]}, missing {lost[:3]}")
    return config, FontSet(FAMILY, files, hashes)


def load_single_font(path: str):
    """A private FcConfig holding only `path` (e.g. GoNotoCurrent.ttf). Returns (FcConfig, FontSet)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FontError(f"font_file {path!r} does not exist")
    config = _gc_config(fontconfig.FcConfigCreate())
    # Only the system rule that scales bitmap fonts, then the file as an application font (no dir scan).
    if not fontconfig.FcConfigParseAndLoad(config, SCALE_BITMAP_CONF.encode(), 1):
        raise FontError(f"fontconfig could not load {SCALE_BITMAP_CONF}")
    if not fontconfig.FcConfigAppFontAddFile(config, path.encode()):
        raise FontError(f"font_file {path!r} is not a font fontconfig can read")
    family = _first_family(config, 1, path)
    return config, FontSet(family, (path,), {path: file_sha256(path)})


# ------------------------------------------------------------------------------------------------ maintainers
def _choose_files() -> list[str]:
    core = sorted(p.name for p in NOTO_TTF.glob("NotoSans*-Regular.ttf"))
    skip = "Mono Display UI- Unjoined TifinaghA TifinaghG TifinaghH TifinaghR TifinaghS TifinaghT".split()
    core = [n for n in core if n not in _FIRST and not any(s in n for s in skip)]
    prio = [f"NotoSans{s}-Regular.ttf" for s in _PRIORITY]
    rest = [n for n in core if n not in prio]
    return (
        [str(NOTO_TTF / n) for n in _FIRST]
        + [str(NOTO_OTF / _CJK[0])]
        + [str(NOTO_TTF / n) for n in prio + rest]
        + [str(NOTO_TTF / _EMOJI)]
    )


def write_font_files() -> None:
    """Regenerate fonts.json and fonts.conf from the fonts installed on this machine."""
    files = _choose_files()
    config = _gc_config(fontconfig.FcConfigCreate())
    for f in files:
        if not fontconfig.FcConfigAppFontAddFile(config, f.encode()):
            raise FontError(f"cannot read {f}")
    fonts = []
    for f in files:
        family = _CJK[1] if f.endswith(_CJK[0]) else _first_family(config, 1, f)
        fonts.append({"file": f, "family": family, "sha256": _sha256(f)})
    FONTS_JSON.write_text(json.dumps({"family": FAMILY, "fonts": fonts}, indent=1) + "\n")
    accept = "\n".join(f"      <glob>{escape(f['file'])}</glob>" for f in fonts)
    prefer = "\n".join(f"      <family>{escape(f['family'])}</family>" for f in fonts)
    FONTS_CONF.write_text(
        f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- Generated from fonts.json by pixelgpt.renderer.fonts.write_font_files(); do not edit by hand.
     Sees only the pinned Noto files; the renderer loads it into a private FcConfig. -->
<fontconfig>
  <dir>{NOTO_TTF}</dir>
  <dir>{NOTO_OTF}</dir>
  <cachedir prefix="xdg">pixelgpt/fontconfig</cachedir>
  <!-- without this, Noto Color Emoji (a bitmap font) is drawn at its ~109 px strike -->
  <include ignore_missing="no">{SCALE_BITMAP_CONF}</include>
  <selectfont>
    <rejectfont><glob>*</glob></rejectfont>
    <acceptfont>
{accept}
    </acceptfont>
  </selectfont>
  <match target="font">
    <edit name="antialias" mode="assign"><bool>true</bool></edit>
    <edit name="hinting" mode="assign"><bool>true</bool></edit>
    <edit name="hintstyle" mode="assign"><const>hintslight</const></edit>
    <edit name="rgba" mode="assign"><const>none</const></edit>
    <edit name="embeddedbitmap" mode="assign"><bool>true</bool></edit>
  </match>
  <alias binding="strong">
    <family>{FAMILY}</family>
    <prefer>
{prefer}
    </prefer>
  </alias>
  <!-- Pango asks for the family "emoji" for emoji sequences; without this ZWJ sequences fall apart -->
  <alias binding="strong">
    <family>emoji</family>
    <prefer><family>Noto Color Emoji</family></prefer>
  </alias>
</fontconfig>
"""
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m pixelgpt.renderer.fonts --write")
    write_font_files()
    print(f"wrote {FONTS_JSON} and {FONTS_CONF}")
