"""Tokenizers for the `tokens` column: built-in byte-level (no files; the default) or any HF tokenizer.json.

Both give `encode(text) -> (ids int32 (t,), offsets int32 (t, 2))` with offsets in characters of `text`
(half-open), which is what aligns tokens with the renderer's per-character patch ranges.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol

import numpy as np


class Tokenizer(Protocol):
    name: str
    vocab_size: int

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]: ...
    def decode(self, ids) -> str: ...
    def fingerprint(self) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255; ids 256 (bos), 257 (eos), 258 (pad) are reserved; vocab_size 512 leaves
    room and keeps the embedding a multiple of 64. Every byte of a character gets that character's offsets."""

    name = "byte"
    vocab_size = 512
    bos_id, eos_id, pad_id = 256, 257, 258

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        ids = data.astype(np.int32)
        char_of_byte = np.cumsum((data & 0xC0) != 0x80, dtype=np.int32) - 1  # continuation bytes: 10xxxxxx
        offsets = np.stack([char_of_byte, char_of_byte + 1], axis=1).astype(np.int32)
        return ids, offsets.reshape(-1, 2)

    def decode(self, ids) -> str:
        data = bytes(int(i) for i in np.asarray(ids).ravel() if 0 <= int(i) < 256)
        return data.decode("utf-8", errors="replace")

    def fingerprint(self) -> str:
        return hashlib.sha256(b"pixelgpt-byte-tokenizer-v1").hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "vocab_size": self.vocab_size, "fingerprint": self.fingerprint()}


class HFTokenizer:
    """A Hugging Face `tokenizers` tokenizer.json; no special tokens are added; offsets from the tokenizer."""

    def __init__(self, path: str):
        from tokenizers import Tokenizer as _Tok

        if not os.path.isfile(path):
            raise FileNotFoundError(f"tokenizer: no tokenizer.json at {path!r}")
        self.path = path
        self._tok = _Tok.from_file(path)
        self.name = os.path.basename(path)
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        self._fingerprint = hashlib.sha256(self._tok.to_str().encode("utf-8")).hexdigest()

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        enc = self._tok.encode(text, add_special_tokens=False)
        ids = np.asarray(enc.ids, dtype=np.int32)
        offsets = np.asarray(enc.offsets, dtype=np.int32).reshape(-1, 2)
        return ids, offsets

    def decode(self, ids) -> str:
        return self._tok.decode([int(i) for i in np.asarray(ids).ravel()], skip_special_tokens=False)

    def fingerprint(self) -> str:
        return self._fingerprint

    def describe(self) -> dict:
        return {"name": self.name, "vocab_size": self.vocab_size, "fingerprint": self.fingerprint()}


def load_tokenizer(spec: str = "byte") -> ByteTokenizer | HFTokenizer:
    """ "byte" -> the built-in byte tokenizer; anything else is a path to a tokenizer.json."""
    if spec == "byte":
        return ByteTokenizer()
    return HFTokenizer(spec)


SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>"]


def train_bpe(texts, vocab_size: int, path: str) -> HFTokenizer:
    """Train a byte-level BPE tokenizer.json on an iterable of texts (ids 0-2 are the special tokens).
    Byte-level pre-tokenization without a prefix space makes decode(encode(text)) == text."""
    from tokenizers import Tokenizer as _Tok
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = _Tok(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tok.save(path)
    return HFTokenizer(path)
