"""Tokenizers: ids and character offsets checked against the text itself (not the code's own output)."""

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from pixelgpt.dataset.tokenizers import ByteTokenizer, HFTokenizer, load_tokenizer

TEXT = "Héllo, мир! 世界 🙂 שלום e\u0301 👩\u200d👩\u200d👧 tab\tend"


def test_byte_tokenizer_ids_are_utf8_bytes_and_offsets_cover_each_char():
    tok = load_tokenizer("byte")
    ids, offsets = tok.encode(TEXT)
    assert ids.dtype == np.int32 and offsets.dtype == np.int32 and offsets.shape == (len(ids), 2)
    assert ids.tolist() == list(TEXT.encode("utf-8"))
    assert tok.vocab_size == 512 and ids.max() < 512
    # naive reference: walk the characters, each contributes len(utf8) tokens with its own offsets
    want = [(i, i + 1) for i, ch in enumerate(TEXT) for _ in ch.encode("utf-8")]
    assert [tuple(o) for o in offsets.tolist()] == want
    assert tok.decode(ids) == TEXT


def test_byte_tokenizer_fingerprint_is_stable_and_empty_text_is_empty():
    a, b = ByteTokenizer(), ByteTokenizer()
    assert a.fingerprint() == b.fingerprint() and len(a.fingerprint()) == 64
    ids, offsets = a.encode("")
    assert ids.shape == (0,) and offsets.shape == (0, 2)


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
    ids, offsets = tok.encode(TEXT)
    assert ids.dtype == np.int32 and offsets.shape == (len(ids), 2)
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
