"""Determinism and font isolation: same bytes twice, in other processes, and whatever else is installed."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from renderer_samples import SCRIPTS

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FINGERPRINT = textwrap.dedent(
    """
    import hashlib, json, sys
    from pixelgpt.renderer import Renderer
    r = Renderer()
    h = hashlib.sha256()
    for t in json.loads(sys.argv[1]):
        e = r.render(t)
        h.update(e.patches.tobytes()); h.update(e.char_patches.tobytes())
    print(h.hexdigest())
    """
)
TEXTS = list(SCRIPTS.values()) + ["Hello world", "def f(x):  return x ** 2  # code"]


def fingerprint(renderer, texts=TEXTS):
    h = hashlib.sha256()
    for t in texts:
        e = renderer.render(t)
        h.update(e.patches.tobytes())
        h.update(e.char_patches.tobytes())
    return h.hexdigest()


def run_fingerprint(env):
    out = subprocess.run(
        [sys.executable, "-c", FINGERPRINT, json.dumps(TEXTS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_same_text_twice_is_identical(renderer):
    a = renderer.render(SCRIPTS["arabic"] + " " + SCRIPTS["emoji"])
    renderer.render("something else in between")
    b = renderer.render(SCRIPTS["arabic"] + " " + SCRIPTS["emoji"])
    assert a.patches.tobytes() == b.patches.tobytes()
    assert fingerprint(renderer) == fingerprint(renderer)


@pytest.mark.skipif(
    not os.path.exists(DEJAVU), reason="needs DejaVu (preinstalled on Debian) as the hostile font"
)
def test_other_process_with_hostile_fonts_and_locale_renders_the_same(renderer, tmp_path):
    """A second process whose global fontconfig maps every family to DejaVu, with extra user fonts and a
    Japanese locale, renders byte-identical strips."""
    home, data, cache = tmp_path / "home", tmp_path / "data", tmp_path / "cache"
    for d in (home / ".fonts", data / "fonts", cache):
        d.mkdir(parents=True)
    shutil.copy(DEJAVU, home / ".fonts" / "NotoSans-Regular.ttf")
    shutil.copy(DEJAVU, data / "fonts" / "Sneaky.ttf")
    conf = tmp_path / "fonts.conf"
    aliases = "".join(
        f'<alias binding="strong"><family>{f}</family><prefer><family>DejaVu Sans</family></prefer></alias>'
        for f in ["PixelGPT Sans", "Noto Sans", "emoji", "sans-serif"]
    )
    conf.write_text(
        f"<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><dir>~/.fonts</dir>"
        f"<dir prefix='xdg'>fonts</dir><cachedir>{cache}</cachedir>{aliases}</fontconfig>"
    )
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_DATA_HOME=str(data),
        XDG_CACHE_HOME=str(cache),
        FONTCONFIG_FILE=str(conf),
        LANG="ja_JP.UTF-8",
        LC_ALL="ja_JP.UTF-8",
        LANGUAGE="ja",
        PANGO_LANGUAGE="ja",
    )
    # the hostile set-up is real: the process-global fontconfig now resolves our family to DejaVu
    match = subprocess.run(["fc-match", "PixelGPT Sans"], env=env, capture_output=True, text=True)
    assert "DejaVu" in match.stdout
    assert run_fingerprint(env) == fingerprint(renderer)


def test_other_process_plain_env_renders_the_same(renderer):
    assert run_fingerprint(dict(os.environ)) == fingerprint(renderer)


def test_font_hashes_are_the_files_sha256(renderer):
    hashes = renderer.font_hashes()
    noto = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"
    assert noto in hashes and len(hashes) > 100
    with open(noto, "rb") as f:
        assert hashes[noto] == hashlib.sha256(f.read()).hexdigest()
    assert all(p.startswith("/usr/share/fonts/") for p in hashes)
    assert any(p.endswith("NotoSansCJK-Regular.ttc") for p in hashes)
    assert any(p.endswith("NotoColorEmoji.ttf") for p in hashes)


def test_a_changed_font_file_is_a_clear_error(tmp_path, monkeypatch):
    from pixelgpt.renderer import FontError, Renderer, fonts

    spec = json.loads(fonts.FONTS_JSON.read_text())
    spec["fonts"][0]["sha256"] = "0" * 64
    fake = tmp_path / "fonts.json"
    fake.write_text(json.dumps(spec))
    monkeypatch.setattr(fonts, "FONTS_JSON", fake)
    with pytest.raises(FontError, match="NotoSans-Regular.ttf has sha256"):
        Renderer()


@pytest.mark.skipif(not os.path.exists(DEJAVU), reason="needs DejaVu as a second font file")
def test_single_font_file(renderer):
    from pixelgpt.renderer import FontError, Renderer, RendererConfig

    r = Renderer(RendererConfig(font_file=DEJAVU))
    with open(DEJAVU, "rb") as f:
        assert r.font_hashes() == {DEJAVU: hashlib.sha256(f.read()).hexdigest()}
    a, b = r.render("Hello world"), renderer.render("Hello world")
    assert a.tofu == 0 and a.patches.tobytes() != b.patches.tobytes()
    assert r.render("中文").tofu == 2  # DejaVu alone has no Han: no fallback fonts leak in
    with pytest.raises(FontError, match="does not exist"):
        Renderer(RendererConfig(font_file="/nonexistent/font.ttf"))


def test_a_renderer_pickles_as_its_config(renderer):
    import pickle

    from pixelgpt.renderer import Renderer, RendererConfig

    r = pickle.loads(pickle.dumps(Renderer(RendererConfig(max_patches=64))))
    assert r.config == RendererConfig(max_patches=64)
    assert r.render("pickled").patches.tobytes() == renderer.render("pickled").patches.tobytes()


def test_what_a_renderer_drew_before_does_not_change_a_render():
    """An LTR line that starts with Hebrew (is_rtl: 1 of 3 votes) must lay out the same on a fresh renderer
    as on one that has drawn an RTL line (which switches the layout's base direction and back)."""
    from pixelgpt.renderer import Renderer, RendererConfig

    text = "שלום עולם, מה שלומך? and then a long English sentence follows it"
    fresh, used = Renderer(RendererConfig(word_cache=False)), Renderer(RendererConfig(word_cache=False))
    used.render(SCRIPTS["arabic"])
    a, b = fresh.render(text), used.render(text)
    assert a.patches.tobytes() == b.patches.tobytes()
    assert a.char_patches.tolist() == b.char_patches.tolist()
    assert a.char_patches[0, 0] < 10  # LTR paragraph: the Hebrew run comes first, at the left
