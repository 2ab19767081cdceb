"""Tokenizers: ids and character offsets checked against the text itself (not the code's own output)."""

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from pixelgpt.dataset.tokenizers import ByteTokenizer, HFTokenizer, load_tokenizer

TEXT = "Héllo, мир! 世界 🙂 שלום e\u0301 👩\u200d👩\u200d👧 tab\tend"


def test_byte_tokenizer_ids_are_bos_then_utf8_bytes_and_offsets_cover_each_char():
    tok = load_tokenizer("byte")
    ids, offsets = tok.encode(TEXT)
    assert ids.dtype == np.int32 and offsets.dtype == np.int32 and offsets.shape == (len(ids), 2)
    assert ids.tolist() == [256, *TEXT.encode("utf-8")]  # BOS first, like Llama-2's <s>
    assert tok.vocab_size == 512 and ids.max() < 512 and tok.bos_id == 256
    # naive reference: BOS covers nothing; each character contributes len(utf8) tokens with its own offsets
    want = [(0, 0)] + [(i, i + 1) for i, ch in enumerate(TEXT) for _ in ch.encode("utf-8")]
    assert [tuple(o) for o in offsets.tolist()] == want
    assert tok.decode(ids) == TEXT


def test_byte_tokenizer_fingerprint_is_stable_and_empty_text_is_bos_only():
    a, b = ByteTokenizer(), ByteTokenizer()
    assert a.fingerprint() == b.fingerprint() and len(a.fingerprint()) == 64
    ids, offsets = a.encode("")
    assert ids.tolist() == [256] and offsets.tolist() == [[0, 0]]


def _train_bpe(path, vocab: int, corpus: list[str]) -> str:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=vocab, show_progress=False))
    tok.save(str(path))
    return str(path)


def test_hf_tokenizer_offsets_are_characters_and_tile_the_text(tmp_path):
    path = _train_bpe(tmp_path / "tokenizer.json", 400, [TEXT, "hello world " * 20, "мир мир мир"])
    tok = load_tokenizer(path)
    assert isinstance(tok, HFTokenizer) and tok.vocab_size <= 400
    ids, offsets = tok.encode(TEXT)  # a bare tokenizer.json without a post-processor adds no special token
    assert ids.dtype == np.int32 and offsets.shape == (len(ids), 2) and not tok.add_bos
    # character offsets of a byte-level BPE tile the string (a multi-byte char may be shared by tokens)
    assert offsets[0, 0] == 0 and offsets[-1, 1] == len(TEXT)
    assert np.all(offsets[1:, 0] >= offsets[:-1, 0]) and np.all(offsets[:, 1] <= len(TEXT))
    covered = set()
    for s, e in offsets.tolist():
        covered.update(range(s, e))
    assert covered == set(range(len(TEXT)))
    assert tok.decode(ids) == TEXT


def test_hf_tokenizer_fingerprint_changes_with_the_vocabulary(tmp_path):
    a = HFTokenizer(_train_bpe(tmp_path / "a.json", 300, ["aaaa bbbb cccc"] * 5))
    b = HFTokenizer(_train_bpe(tmp_path / "b.json", 300, ["xxxx yyyy zzzz"] * 5))
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == HFTokenizer(str(tmp_path / "a.json")).fingerprint()


def test_missing_tokenizer_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_tokenizer(str(tmp_path / "nope.json"))


# --------------------------------------------------------------------------- SentencePiece and Hub layouts

CORPUS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Pixels and texts: autoregressive pre-training on 1,024 patches of 16x16 pixels.",
    "Héllo wörld, мир 世界 🙂 — naïve café, 12345 67890.",
    "def render(text):\n    return strips[text]  # code, too",
] * 20


@pytest.fixture(scope="module")
def llama_like(tmp_path_factory):
    """A SentencePiece BPE trained here with Llama-2's settings, and its Hugging Face conversion written by
    transformers in the Hub layout (tokenizer.json, tokenizer.model, tokenizer_config.json, ...)."""
    from transformers import LlamaTokenizerFast

    from pixelgpt.dataset.tokenizers import train_sentencepiece

    root = tmp_path_factory.mktemp("tok")
    sp = train_sentencepiece(iter(CORPUS), 400, str(root / "sp"))
    hub = root / "hub"
    fast = LlamaTokenizerFast(
        vocab_file=str(root / "sp" / "tokenizer.model"), legacy=True, add_prefix_space=True
    )
    fast.save_pretrained(str(hub))
    return sp, str(hub), fast


TEXTS = [
    "Hello world",
    "a  b",
    " lead and trail ",
    "Héllo wörld 世界 🙂 x",
    "12345 digits",
    "e\u0301 👩\u200d👩\u200d👧",
]


def test_sentencepiece_ids_are_sentencepieces_with_bos(llama_like):
    import sentencepiece as spm

    sp, _, _ = llama_like
    ref = spm.SentencePieceProcessor(model_file=sp.path)
    assert (sp.bos_id, sp.eos_id, sp.pad_id, sp.vocab_size) == (1, 2, None, 400)
    assert sp.add_bos and not sp.add_eos
    for text in TEXTS:
        ids, offsets = sp.encode(text)
        assert ids.tolist() == ref.encode(text, add_bos=True)  # the reference library's ids, <s> first
        assert offsets[0].tolist() == [0, 0] and sp.decode(ids) == text


def test_sentencepiece_offsets_are_characters_of_each_piece(llama_like):
    """Each piece's offsets cover exactly the characters of its surface; byte-fallback pieces of one
    character all get that character."""
    import sentencepiece as spm

    sp, _, _ = llama_like
    ref = spm.SentencePieceProcessor(model_file=sp.path)
    for text in TEXTS:
        ids, offsets = sp.encode(text)
        pieces = ref.encode(text, out_type=str)
        for k, ((s, e), piece) in enumerate(zip(offsets[1:].tolist(), pieces)):
            if k == 0:
                piece = piece[
                    1:
                ]  # the dummy prefix "▁" that SentencePiece puts before the text covers nothing
            if piece.startswith("<0x"):  # a byte of a character: the character it belongs to
                assert e - s == 1
            else:
                assert text[s:e] == piece.replace("\u2581", " "), (text, piece, s, e)


def test_hub_directory_gives_identical_ids_and_pairs(llama_like):
    sp, hub, fast = llama_like
    tok = load_tokenizer(hub)
    assert tok.kind == "hf" and tok.add_bos and not tok.add_eos and tok.bos_id == 1
    for text in TEXTS:
        assert tok.encode(text)[0].tolist() == sp.encode(text)[0].tolist() == fast(text)["input_ids"]
    # pairs as the paper encodes them: <s> A <s> B, what transformers' Llama tokenizer gives
    assert tok.encode_pair("a b", "c d").tolist() == fast("a b", "c d")["input_ids"]
    assert tok.encode_pair("a b", "c d").tolist().count(1) == 2


def test_tokenizer_config_settings_are_honoured(llama_like, tmp_path):
    import json
    import shutil

    _, hub, _ = llama_like
    shutil.copytree(hub, tmp_path / "d")
    config = json.loads((tmp_path / "d" / "tokenizer_config.json").read_text())
    config.update(add_bos_token=False, add_eos_token=True)
    (tmp_path / "d" / "tokenizer_config.json").write_text(json.dumps(config))
    ids = load_tokenizer(str(tmp_path / "d")).encode("Hello")[0].tolist()
    assert ids[0] != 1 and ids[-1] == 2


def test_describe_records_kind_ids_and_file_hash(llama_like):
    import hashlib

    sp, hub, _ = llama_like
    d = sp.describe()
    assert d["kind"] == "sentencepiece" and d["vocab_size"] == 400
    assert (d["bos_id"], d["eos_id"], d["pad_id"]) == (1, 2, None)
    assert d["sha256"] == hashlib.sha256(Path(sp.path).read_bytes()).hexdigest()
    assert load_tokenizer(hub).describe()["kind"] == "hf"


def test_save_and_load_round_trip(llama_like, tmp_path):
    sp, hub, _ = llama_like
    for tok, name in ((sp, "sp"), (load_tokenizer(hub), "hf"), (ByteTokenizer(), "byte")):
        tok.save(str(tmp_path / name))
        again = load_tokenizer(str(tmp_path / name))
        assert (
            again.fingerprint() == tok.fingerprint()
            and again.encode(TEXT)[0].tolist() == tok.encode(TEXT)[0].tolist()
        )


def test_train_bpe_prepends_bos(tmp_path):
    from pixelgpt.dataset.tokenizers import train_bpe

    tok = train_bpe(iter(CORPUS), 300, str(tmp_path / "bpe.json"))
    ids, offsets = tok.encode("Hello world")
    assert tok.add_bos and ids[0] == tok.bos_id == 1 and offsets[0].tolist() == [0, 0]
    assert tok.decode(ids) == "Hello world"


def test_bad_tokenizer_files_are_clear_errors(tmp_path):
    from pixelgpt.dataset.tokenizers import TokenizerError

    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(TokenizerError, match="bad.model"):
        load_tokenizer(str(tmp_path / "bad.model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither tokenizer.json nor tokenizer.model"):
        load_tokenizer(str(tmp_path / "empty"))


def _random_texts(n: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    pool = list("abcdefghij klmnop  .,;\n\t") + [
        "é",
        "ß",
        "мир",
        "世界",
        "🙂",
        "👩\u200d👧",
        "e\u0301",
        "ﬁ",
        "①",
        "\u3000",
    ]
    return ["".join(rng.choices(pool, k=rng.randint(0, 60))) for _ in range(n)]


def test_sentencepiece_offsets_by_tiling_equal_the_protos(llama_like):
    """The fast path (each piece covers its own bytes) gives exactly the offsets SentencePiece's proto
    reports, on texts with spaces at either end, runs of spaces, newlines, byte-fallback characters."""
    sp, _, _ = llama_like
    for text in TEXTS + CORPUS[:4] + _random_texts(400, seed=3):
        ids = sp._sp.encode(text)
        tiled = sp._offsets_by_tiling(text, ids)
        assert tiled is not None, text  # identity normalisation: the pieces always tile the text
        want_ids, want = sp._encode_with_proto(text)
        assert ids == want_ids.tolist()
        np.testing.assert_array_equal(tiled, want, err_msg=repr(text))


def test_sentencepiece_with_a_normaliser_falls_back_to_the_proto(tmp_path):
    """Under NFKC ("ﬁ" -> "fi") the pieces no longer tile the text: the offsets come from the proto."""
    import io

    import sentencepiece as spm

    from pixelgpt.dataset.tokenizers import SentencePieceTokenizer

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=model, vocab_size=400, model_type="bpe",
        byte_fallback=True, normalization_rule_name="nmt_nfkc", num_threads=1, minloglevel=2,
    )  # fmt: skip
    (tmp_path / "m.model").write_bytes(model.getvalue())
    sp = SentencePieceTokenizer(str(tmp_path / "m.model"))
    text = "ﬁne ① café"
    assert sp._offsets_by_tiling(text, sp._sp.encode(text)) is None
    ids, offsets = sp.encode(text)
    want_ids, want = sp._encode_with_proto(text)
    assert ids[1:].tolist() == want_ids.tolist()
    np.testing.assert_array_equal(offsets[1:], want)
    assert offsets[1:].min() >= 0 and offsets[1:].max() <= len(text)
