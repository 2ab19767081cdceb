"""pixelgpt-convert: import a released Hub-layout directory, export it back in both formats, user errors.

The Hub is out of reach, so each test writes a released-layout directory itself (random weights, a real
tokenizer.json from the `tokenizers` library) and runs the CLI's main() on it in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer, models, pre_tokenizers

from pixelgpt.model import ModelConfig, PixelTextGPT
from pixelgpt.model.hf import save_released
from pixelgpt.renderer import RendererConfig
from pixelgpt.train.convert import main

CFG = ModelConfig(n_layer=2, d_model=64, n_head=4, n_kv_head=2, d_ff=96, vocab_size=100)
PREFIX = "pixelgpt-convert: "


@pytest.fixture
def model() -> PixelTextGPT:
    """Random weights large enough that logits are O(1) (the 0.02 init would make every logit ~0)."""
    torch.manual_seed(0)
    model = PixelTextGPT(CFG).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(
                torch.randn_like(p) * p.shape[-1] ** -0.5 if p.ndim > 1 else 1 + 0.1 * torch.randn_like(p)
            )
    return model


@pytest.fixture
def hub_dir(tmp_path, model):
    """A released-layout directory as a Hub download holds it: config.json, model.safetensors, tokenizer."""
    directory = tmp_path / "hub"
    save_released(model, directory)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "hello": 3, "world": 4}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>"}))
    return directory


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(PREFIX) and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def assert_same_weights(a: PixelTextGPT, b: PixelTextGPT) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_import_writes_our_export_dir(tmp_path, hub_dir, model, capsys):
    out = tmp_path / "ours"
    code, stdout, err = run(["import", hub_dir, out], capsys)
    assert code == 0, err
    assert "imported" in stdout
    assert_same_weights(PixelTextGPT.from_pretrained(out), model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (hub_dir / name).read_bytes()
    assert Tokenizer.from_file(str(out / "tokenizer.json")).encode("hello world").ids == [3, 4]
    assert json.loads((out / "renderer_config.json").read_text()) == RendererConfig().to_dict()


def test_export_back_to_released_is_exact(tmp_path, hub_dir, capsys):
    ours, back = tmp_path / "ours", tmp_path / "back"
    assert run(["import", hub_dir, ours], capsys)[0] == 0
    code, _, err = run(["export", ours, back], capsys)
    assert code == 0, err
    original, exported = (
        load_file(str(hub_dir / "model.safetensors")),
        load_file(str(back / "model.safetensors")),
    )
    assert exported.keys() == original.keys()
    assert all(torch.equal(exported[k], original[k]) for k in original)
    assert json.loads((back / "config.json").read_text()) == json.loads((hub_dir / "config.json").read_text())
    assert (back / "tokenizer.json").is_file() and not (back / "renderer_config.json").exists()


def test_export_llama_loads_in_transformers(tmp_path, hub_dir, model, capsys):
    from transformers import LlamaForCausalLM

    ours, llama_dir = tmp_path / "ours", tmp_path / "llama"
    assert run(["import", hub_dir, ours], capsys)[0] == 0
    code, _, err = run(["export", ours, llama_dir, "--format", "llama"], capsys)
    assert code == 0, err
    assert (llama_dir / "tokenizer.json").is_file()
    llama, info = LlamaForCausalLM.from_pretrained(llama_dir, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    ids = torch.randint(0, CFG.vocab_size, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(input_ids=ids).token_logits
        diff = (llama.eval()(input_ids=ids).logits - logits).abs().max()
    assert logits.abs().max() > 1.0 and diff < 1e-4


def test_import_stores_a_given_renderer_config(tmp_path, hub_dir, capsys):
    settings = tmp_path / "render.json"
    settings.write_text(json.dumps({"font_size": 10, "max_patches": 256}))
    out = tmp_path / "ours"
    assert run(["import", hub_dir, out, "--renderer-config", settings], capsys)[0] == 0
    stored = json.loads((out / "renderer_config.json").read_text())
    assert stored == RendererConfig(font_size=10, max_patches=256).to_dict()


def test_a_bad_renderer_config_fails_before_writing(tmp_path, hub_dir, capsys):
    settings = tmp_path / "render.json"
    settings.write_text(json.dumps({"bogus": 1}))
    out = tmp_path / "ours"
    code, _, err = run(["import", hub_dir, out, "--renderer-config", settings], capsys)
    assert_user_error(code, err, "bogus")
    assert not out.exists()


def test_missing_directory_is_one_line_exit_2(tmp_path, capsys):
    code, _, err = run(["import", tmp_path / "absent", tmp_path / "out"], capsys)
    assert_user_error(code, err, "absent", "no such directory")
    code, _, err = run(["export", tmp_path / "absent", tmp_path / "out"], capsys)
    assert_user_error(code, err, "absent")


def test_missing_and_misshaped_tensors_are_named(tmp_path, hub_dir, capsys):
    from safetensors.torch import save_file

    state = load_file(str(hub_dir / "model.safetensors"))
    del state["model.layers.1.mlp.up_proj.weight"]
    state["lm_pixel_head.weight"] = torch.zeros(700, CFG.d_model)
    save_file(state, str(hub_dir / "model.safetensors"))
    code, _, err = run(["import", hub_dir, tmp_path / "out"], capsys)
    assert_user_error(code, err, "model.layers.1.mlp.up_proj.weight", "lm_pixel_head.weight (700, 64)")


def test_export_names_what_our_dir_lacks(tmp_path, hub_dir, capsys):
    ours = tmp_path / "ours"
    assert run(["import", hub_dir, ours], capsys)[0] == 0
    from safetensors.torch import save_file

    state = load_file(str(ours / "model.safetensors"))
    del state["blocks.0.attn.q_proj.weight"]
    save_file(state, str(ours / "model.safetensors"))
    code, _, err = run(["export", ours, tmp_path / "back"], capsys)
    assert_user_error(code, err, "blocks.0.attn.q_proj.weight")
    (ours / "model.safetensors").unlink()
    code, _, err = run(["export", ours, tmp_path / "back"], capsys)
    assert_user_error(code, err, "model.safetensors")


def test_out_must_differ_from_src(hub_dir, capsys):
    code, _, err = run(["import", hub_dir, hub_dir], capsys)
    assert_user_error(code, err, "OUT must differ from SRC")


def test_help_describes_every_option(capsys):
    for argv in (["--help"], ["import", "--help"], ["export", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    text = capsys.readouterr().out
    for needle in ("import", "export", "--renderer-config", "--format", "released", "llama", "SRC", "OUT"):
        assert needle in text


def test_module_entry_point_reports_without_traceback(tmp_path):
    """As a user runs it: python -m, a missing source directory -> one stderr line, exit code 2."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixelgpt.train.convert",
            "import",
            str(tmp_path / "nope"),
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(PREFIX) and proc.stderr.count("\n") == 1, proc.stderr
