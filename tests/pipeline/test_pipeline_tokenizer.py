"""pipelines/train_tokenizer.py, then the render job with its tokenizer.json (last: new actors)."""

import json

from pipeline_helpers import MAX_PATCHES, read_set
from test_pipeline_cli import load

from pixelgpt.dataset import schema
from pixelgpt.dataset.samples import sample_inputs
from pixelgpt.dataset.tokenizers import load_tokenizer


def test_train_tokenizer_then_render_with_it(ray_local, tmp_path):
    path = tmp_path / "tokenizer.json"
    assert load("train_tokenizer").main(["--samples", "--vocab-size", "600", "--output", str(path)]) == 0
    tok = load_tokenizer(str(path))
    assert tok.vocab_size == 600
    out = tmp_path / "bpe"
    cli = load("render_corpus")
    wiki = sample_inputs()["wikipedia"][0]
    args = ["--output", str(out), "--tokenizer", str(path), "--max-patches", str(MAX_PATCHES), "--quiet"]
    assert cli.main([f"--input=wikipedia={wiki}", "--workers", "1", *args]) == 0
    samples = read_set(str(out), tmp_path / "cache")
    assert samples and all(tok.decode(s.tokens) == s.text for s in samples)
    assert all(s.tokens.max() < 600 and len(s.tokens) < len(s.text.encode()) for s in samples)
    meta = json.loads((out / schema.META_FILE).read_text())
    assert meta["tokenizer"]["fingerprint"] == tok.fingerprint()
