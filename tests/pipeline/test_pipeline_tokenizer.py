"""pipelines/train_tokenizer.py, then the render job with its tokenizer (last: new actors)."""

import json

from pipeline_helpers import MAX_PATCHES, read_set
from test_pipeline_cli import load

from pixelgpt.dataset import schema
from pixelgpt.dataset.samples import sample_inputs
from pixelgpt.dataset.tokenizers import load_tokenizer


def render(cli, out, tokenizer, *extra):
    wiki = sample_inputs()["wikipedia"][0]
    args = ["--output", str(out), "--tokenizer", str(tokenizer), "--max-patches", str(MAX_PATCHES), "--quiet"]
    assert cli.main([f"--input=wikipedia={wiki}", "--workers", "1", *args, *extra]) == 0


def test_train_tokenizer_then_render_with_it(ray_local, tmp_path):
    path = tmp_path / "tokenizer.json"
    assert load("train_tokenizer").main(["--samples", "--vocab-size", "600", "--output", str(path)]) == 0
    tok = load_tokenizer(str(path))
    assert tok.vocab_size == 600
    out = tmp_path / "bpe"
    render(load("render_corpus"), out, path)
    samples = read_set(str(out), tmp_path / "cache")
    assert samples and all(tok.decode(s.tokens) == s.text for s in samples)
    assert all(s.tokens[0] == tok.bos_id and s.tokens.max() < 600 for s in samples)
    assert all(len(s.tokens) < len(s.text.encode()) for s in samples)
    meta = json.loads((out / schema.META_FILE).read_text())
    assert meta["tokenizer"]["fingerprint"] == tok.fingerprint() and meta["tokenizer"]["kind"] == "hf"
    assert load_tokenizer(str(out / "tokenizer")).fingerprint() == tok.fingerprint()  # stored beside the set


def test_llama_style_sentencepiece_and_its_hf_conversion_give_identical_shards(ray_local, tmp_path):
    """A SentencePiece BPE trained with Llama-2's settings, and the same model converted by transformers to
    the Hub layout: the job gives the same ids through both, BOS (id 1) first, covering no patch, and no
    chunk over its token budget."""
    from transformers import LlamaTokenizerFast

    sp_dir = tmp_path / "sp"
    cli_tok = load("train_tokenizer")
    assert (
        cli_tok.main(
            ["--samples", "--kind", "sentencepiece", "--vocab-size", "1500", "--output", str(sp_dir)]
        )
        == 0
    )
    hub = tmp_path / "hub"
    LlamaTokenizerFast(
        vocab_file=str(sp_dir / "tokenizer.model"), legacy=True, add_prefix_space=True
    ).save_pretrained(str(hub))
    render(load("render_corpus"), tmp_path / "a", hub, "--max-tokens", "48")
    samples = read_set(str(tmp_path / "a"), tmp_path / "cache-a")
    sp = load_tokenizer(str(sp_dir / "tokenizer.model"))
    fast = LlamaTokenizerFast.from_pretrained(str(hub))
    assert len(samples) > 20
    for x in samples:  # the job's ids (tokenizers, Hub layout) are SentencePiece's and transformers' ids
        assert x.tokens.tolist() == sp.encode(x.text)[0].tolist() == fast(x.text)["input_ids"]
        assert x.token_patches[0, 0] == x.token_patches[0, 1]  # BOS (id 1) first, covering no patch
        assert x.tokens[0] == 1 and 1 not in x.tokens[1:].tolist() and 2 not in x.tokens.tolist()
        assert len(x.tokens) <= 48
    meta = json.loads((tmp_path / "a" / schema.META_FILE).read_text())
    assert meta["max_tokens"] == 48 and meta["tokenizer"]["kind"] == "hf" and meta["tokenizer"]["bos_id"] == 1
    assert len(meta["tokenizer"]["sha256"]) == 64
