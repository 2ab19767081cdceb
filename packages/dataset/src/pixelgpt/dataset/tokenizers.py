"""Tokenizers for the `tokens` column: the built-in byte tokenizer, a SentencePiece `tokenizer.model`, a
Hugging Face `tokenizer.json`, or a directory holding them the way Hub repos ship them.

    tok = load_tokenizer("byte" | "tokenizer.model" | "tokenizer.json" | "path/to/dir")
    ids, offsets = tok.encode("Hello world")   # Llama-2: [1, 15043, 3186], offsets [[0,0],[0,5],[5,11]]
    tok.encode_pair(a, b)                      # <s> A <s> B, as the paper encodes sentence pairs

Ids are exactly those of the reference library for the file (`sentencepiece` for .model, `tokenizers` for
.json), with the file's special-token settings: a Llama-2 tokenizer prepends `<s>` (BOS, id 1) and adds no
`</s>`. A special token covers no character: its offsets are the empty range (0, 0), so it spans no patch.
Offsets are half-open character ranges of `text`, which is what aligns tokens with the renderer's
per-character patch ranges.

Settings of a directory come from its tokenizer_config.json (`add_bos_token`, `add_eos_token`, `bos_token`,
`eos_token`, `pad_token`), as transformers reads them; a bare tokenizer.json uses its own post-processor; a
bare tokenizer.model follows Llama-2 (BOS yes, EOS no).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any

import numpy as np

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_MODEL = "tokenizer.model"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
HUB_FILES = (TOKENIZER_JSON, TOKENIZER_MODEL, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP)
BYTE_CLASS = "PixelGPTByteTokenizer"  # tokenizer_class of an export directory holding the byte tokenizer


class TokenizerError(ValueError):
    """A tokenizer file or directory that cannot be used; the message names it."""


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Tokenizer:
    """What every tokenizer offers. Subclasses set the attributes and implement `_encode_plain` (the text's
    own tokens, no special tokens) and `decode`."""

    kind: str
    name: str
    vocab_size: int
    bos_id: int | None = None
    eos_id: int | None = None
    pad_id: int | None = None
    add_bos: bool = False
    add_eos: bool = False
    sha256: str | None = None  # of the tokenizer file (None: built in)

    def _encode_plain(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """ids int32 (t,) and character offsets int32 (t, 2) of `text`, special tokens included."""
        ids, offsets = self._encode_plain(text)
        head = [self.bos_id] if self.add_bos and self.bos_id is not None else []
        tail = [self.eos_id] if self.add_eos and self.eos_id is not None else []
        if not head and not tail:
            return ids, offsets
        ids = np.concatenate([np.asarray(head, np.int32), ids, np.asarray(tail, np.int32)])
        empty = np.zeros((1, 2), np.int32)
        offsets = np.concatenate([empty[: len(head)], offsets, empty[: len(tail)]])
        return ids.astype(np.int32), offsets.astype(np.int32)

    def encode_pair(self, a: str, b: str) -> np.ndarray:
        """The ids of a sentence pair: each text with its special tokens (`<s> A <s> B` for Llama-2)."""
        return np.concatenate([self.encode(a)[0], self.encode(b)[0]])

    def decode(self, ids) -> str:
        raise NotImplementedError

    def special_ids(self) -> set[int]:
        return {i for i in (self.bos_id, self.eos_id, self.pad_id) if i is not None}

    def fingerprint(self) -> str:
        """Everything the ids depend on: the file's bytes and the special-token settings."""
        parts = [self.kind, self.sha256, self.add_bos, self.add_eos, self.bos_id, self.eos_id]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The tokenizer entry of a shard set's meta.json."""
        return {
            "kind": self.kind,
            "name": self.name,
            "vocab_size": self.vocab_size,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "pad_id": self.pad_id,
            "add_bos": self.add_bos,
            "add_eos": self.add_eos,
            "sha256": self.sha256,
            "fingerprint": self.fingerprint(),
        }

    def _config(self) -> dict[str, Any]:
        """tokenizer_config.json keys that reproduce this tokenizer's settings (transformers' names)."""
        return {"add_bos_token": self.add_bos, "add_eos_token": self.add_eos}

    def save(self, directory: str) -> None:
        """Write the files `load_tokenizer(directory)` turns back into this tokenizer (an export's copy)."""
        raise NotImplementedError


class ByteTokenizer(Tokenizer):
    """UTF-8 bytes as ids 0..255, with 256 (BOS, prepended like Llama-2's `<s>`), 257 (EOS) and 258 (pad);
    vocab_size 512 leaves room and keeps the embedding a multiple of 64. Every byte of a character gets that
    character's offsets."""

    kind = name = "byte"
    vocab_size = 512
    bos_id, eos_id, pad_id = 256, 257, 258
    add_bos = True

    def _encode_plain(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        ids = data.astype(np.int32)
        char_of_byte = np.cumsum((data & 0xC0) != 0x80, dtype=np.int32) - 1  # continuation bytes: 10xxxxxx
        offsets = np.stack([char_of_byte, char_of_byte + 1], axis=1).astype(np.int32)
        return ids, offsets.reshape(-1, 2)

    def decode(self, ids) -> str:
        data = bytes(int(i) for i in np.asarray(ids).ravel() if 0 <= int(i) < 256)
        return data.decode("utf-8", errors="replace")

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        _write_json(
            os.path.join(directory, TOKENIZER_CONFIG), {"tokenizer_class": BYTE_CLASS, **self._config()}
        )


def _byte_to_char_offsets(text: str, data: bytes, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Half-open byte ranges of UTF-8 `data` (= text) -> int32 (n, 2) character ranges: a range starts at the
    character holding its first byte and ends after the characters that start before its end (so every byte
    of one character gets that character)."""
    b = np.frombuffer(data, dtype=np.uint8)
    # starts_before[k] = characters starting in the first k bytes
    starts_before = np.concatenate([[0], np.cumsum((b & 0xC0) != 0x80)]).astype(np.int64)
    first = np.where(begin < len(b), starts_before[np.minimum(begin + 1, len(b))] - 1, len(text))
    return np.stack([first, starts_before[end]], axis=1).astype(np.int32).reshape(-1, 2)


class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece model file (Llama-2's `tokenizer.model`). Ids are `SentencePieceProcessor.encode`'s;
    BOS/EOS/pad ids are the model's own (-1 = none)."""

    kind = "sentencepiece"

    def __init__(self, path: str, add_bos: bool | None = None, add_eos: bool | None = None):
        import sentencepiece as spm

        if not os.path.isfile(path):
            raise FileNotFoundError(f"tokenizer: no SentencePiece model at {path!r}")
        self.path, self.name = path, os.path.basename(path)
        try:
            self._sp = spm.SentencePieceProcessor(model_file=path)
        except (OSError, RuntimeError) as e:
            raise TokenizerError(f"tokenizer: {path!r} is not a SentencePiece model ({e})") from None
        self.vocab_size = int(self._sp.get_piece_size())
        self.bos_id, self.eos_id, self.pad_id = (
            None if i < 0 else int(i) for i in (self._sp.bos_id(), self._sp.eos_id(), self._sp.pad_id())
        )
        self.add_bos = self.bos_id is not None if add_bos is None else bool(add_bos)
        self.add_eos = False if add_eos is None else bool(add_eos)
        self.sha256 = _sha256(path)
        self._surface = [self._piece_bytes(i) for i in range(self.vocab_size)]

    def _piece_bytes(self, i: int) -> bytes | None:
        """The bytes piece i stands for in a text ("\u2581" is a space; <0xNN> is byte NN), or None where they
        are not fixed (<unk>, control pieces)."""
        sp = self._sp
        if sp.is_unknown(i) or sp.is_control(i):
            return None
        piece = sp.id_to_piece(i)
        if sp.is_byte(i):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")

    def _encode_plain(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        ids = self._sp.encode(text)
        offsets = self._offsets_by_tiling(text, ids)
        if offsets is None:
            return self._encode_with_proto(text)
        return np.asarray(ids, np.int32).reshape(-1), offsets

    def _offsets_by_tiling(self, text: str, ids: list[int]) -> np.ndarray | None:
        """The pieces' character offsets when their bytes, laid end to end, are the text's (after the dummy
        prefix's space): then each piece covers exactly its own bytes. Reading begin/end from SentencePiece's
        proto instead costs ~3 us a piece in Python, 3x the encoding itself. None where the pieces do not
        tile the text (a normaliser changed it, or an <unk>): the caller asks the proto."""
        surfaces = [self._surface[i] for i in ids]
        if None in surfaces:
            return None
        data = text.encode("utf-8")
        joined = b"".join(surfaces)
        shift = len(joined) - len(data)  # 1: the dummy prefix, which covers no character
        if shift not in (0, 1) or joined[shift:] != data:
            return None
        lengths = np.fromiter(map(len, surfaces), np.int64, len(surfaces))
        end = np.cumsum(lengths) - shift
        begin = np.maximum(end - lengths, 0)
        return _byte_to_char_offsets(text, data, begin, np.maximum(end, 0))

    def _encode_with_proto(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        try:  # sentencepiece 0.2.0: begin/end of each piece in characters of `text`
            proto, in_bytes = self._sp.encode(text, out_type="immutable_proto"), False
        except ValueError:  # sentencepiece >= 0.2.1: return_type="proto", offsets in UTF-8 bytes
            proto, in_bytes = self._sp.encode(text, return_type="proto"), True
        n = len(proto.pieces)
        ids = np.fromiter((p.id for p in proto.pieces), dtype=np.int32, count=n)
        begin = np.fromiter((p.begin for p in proto.pieces), dtype=np.int64, count=n)
        end = np.fromiter((p.end for p in proto.pieces), dtype=np.int64, count=n)
        # Byte-fallback pieces of one character: all but the last have an empty range at the character's
        # start; give them the range of the piece that completes the character (walking back from it).
        for i in range(n - 2, -1, -1):
            if begin[i] == end[i] and begin[i + 1] == begin[i] and self._sp.is_byte(int(ids[i])):
                end[i] = end[i + 1]
        if not in_bytes:
            return ids, np.stack([begin, end], axis=1).astype(np.int32).reshape(-1, 2)
        return ids, _byte_to_char_offsets(text, text.encode("utf-8"), begin, end)

    def decode(self, ids) -> str:
        specials = self.special_ids()
        return self._sp.decode([int(i) for i in np.asarray(ids).ravel() if int(i) not in specials])

    def _config(self) -> dict[str, Any]:
        sp = self._sp
        names = {k: sp.id_to_piece(i) for k, i in (("bos_token", self.bos_id), ("eos_token", self.eos_id))}
        return {**super()._config(), **{k: v for k, v in names.items() if v}}

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        shutil.copyfile(self.path, os.path.join(directory, TOKENIZER_MODEL))
        _write_json(os.path.join(directory, TOKENIZER_CONFIG), self._config())


class HFTokenizer(Tokenizer):
    """A Hugging Face `tokenizers` file. With add_bos/add_eos given (a directory's tokenizer_config.json) the
    special tokens are added as those say; otherwise the file's own post-processor adds them."""

    kind = "hf"

    def __init__(
        self,
        path: str,
        add_bos: bool | None = None,
        add_eos: bool | None = None,
        special: dict[str, str] | None = None,
    ):
        from tokenizers import Tokenizer as _Tok

        if not os.path.isfile(path):
            raise FileNotFoundError(f"tokenizer: no tokenizer.json at {path!r}")
        self.path, self.name = path, os.path.basename(path)
        try:
            self._tok = _Tok.from_file(path)
        except Exception as e:  # tokenizers raises a bare Exception on a malformed file
            raise TokenizerError(f"tokenizer: {path!r} is not a tokenizer.json ({e})") from None
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        special = special or {}
        self.bos_id = self._find(special.get("bos_token"), "<s>", "<bos>", "<|begin_of_text|>")
        self.eos_id = self._find(special.get("eos_token"), "</s>", "<eos>", "<|endoftext|>")
        self.pad_id = self._find(special.get("pad_token"), "<pad>")
        self._file_specials = add_bos is None and add_eos is None
        if self._file_specials:  # what the file's post-processor does, read off an encoding
            probe = self._tok.encode("a", add_special_tokens=True).ids
            self.add_bos = bool(probe) and self.bos_id is not None and probe[0] == self.bos_id
            self.add_eos = len(probe) > 1 and self.eos_id is not None and probe[-1] == self.eos_id
        else:
            self.add_bos, self.add_eos = bool(add_bos), bool(add_eos)
        self.sha256 = _sha256(path)

    def _find(self, name: str | None, *fallbacks: str) -> int | None:
        for token in ([name] if name else []) + list(fallbacks):
            i = self._tok.token_to_id(token)
            if i is not None:
                return int(i)
        return None

    def _encode_plain(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        enc = self._tok.encode(text, add_special_tokens=False)
        return np.asarray(enc.ids, np.int32), np.asarray(enc.offsets, np.int32).reshape(-1, 2)

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if not self._file_specials:
            return super().encode(text)
        enc = self._tok.encode(text, add_special_tokens=True)
        offsets = np.asarray(enc.offsets, np.int32).reshape(-1, 2)
        offsets[np.asarray(enc.special_tokens_mask, bool)] = 0  # a special token covers no character
        return np.asarray(enc.ids, np.int32), offsets

    def decode(self, ids) -> str:
        return self._tok.decode([int(i) for i in np.asarray(ids).ravel()], skip_special_tokens=True)

    def _config(self) -> dict[str, Any]:
        names = {
            k: self._tok.id_to_token(i)
            for k, i in (("bos_token", self.bos_id), ("eos_token", self.eos_id), ("pad_token", self.pad_id))
            if i is not None
        }
        return {**super()._config(), **names}

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        shutil.copyfile(self.path, os.path.join(directory, TOKENIZER_JSON))
        _write_json(os.path.join(directory, TOKENIZER_CONFIG), self._config())


def _write_json(path: str, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def _token_name(value: Any) -> str | None:
    """tokenizer_config.json writes a special token as a string or as {"content": ...} (AddedToken)."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _load_directory(path: str) -> Tokenizer:
    config: dict[str, Any] = {}
    config_file = os.path.join(path, TOKENIZER_CONFIG)
    if os.path.isfile(config_file):
        try:
            with open(config_file, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise TokenizerError(f"tokenizer: {config_file!r} is not valid JSON ({e})") from None
    if config.get("tokenizer_class") == BYTE_CLASS:
        return ByteTokenizer()
    add_bos, add_eos = config.get("add_bos_token"), config.get("add_eos_token")
    if os.path.isfile(os.path.join(path, TOKENIZER_JSON)):
        special = {k: _token_name(config.get(k)) for k in ("bos_token", "eos_token", "pad_token")}
        special = {k: v for k, v in special.items() if v}
        if add_bos is None and add_eos is None:
            return HFTokenizer(os.path.join(path, TOKENIZER_JSON), special=special)
        return HFTokenizer(os.path.join(path, TOKENIZER_JSON), bool(add_bos), bool(add_eos), special)
    if os.path.isfile(os.path.join(path, TOKENIZER_MODEL)):
        return SentencePieceTokenizer(os.path.join(path, TOKENIZER_MODEL), add_bos, add_eos)
    raise FileNotFoundError(
        f"tokenizer: {path!r} holds neither {TOKENIZER_JSON} nor {TOKENIZER_MODEL} "
        f"(nor a {TOKENIZER_CONFIG} naming the byte tokenizer)"
    )


def load_tokenizer(spec: str = "byte") -> Tokenizer:
    """ "byte" -> the built-in byte tokenizer; a `.model` file -> SentencePiece; any other file -> a Hugging
    Face tokenizer.json; a directory -> its tokenizer.json (else tokenizer.model) with the settings of its
    tokenizer_config.json."""
    if spec == "byte":
        return ByteTokenizer()
    if os.path.isdir(spec):
        return _load_directory(spec)
    if not os.path.exists(spec):
        raise FileNotFoundError(f"tokenizer: {spec!r} is neither 'byte' nor an existing file or directory")
    if spec.endswith(".model"):
        return SentencePieceTokenizer(spec)
    return HFTokenizer(spec)


# ----------------------------------------------------------------------------------------------- training

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>"]


def train_bpe(texts, vocab_size: int, path: str) -> HFTokenizer:
    """Train a byte-level BPE tokenizer.json on an iterable of texts (ids 0-2 are <pad>, <bos>, <eos>; its
    post-processor prepends <bos>, as Llama-2 does). Byte-level pre-tokenization without a prefix space makes
    decode(encode(text)) == text."""
    from tokenizers import Tokenizer as _Tok
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

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
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", SPECIAL_TOKENS.index("<bos>"))]
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tok.save(path)
    return HFTokenizer(path)


def train_sentencepiece(texts, vocab_size: int, directory: str) -> SentencePieceTokenizer:
    """Train a SentencePiece BPE with Llama-2's settings (byte fallback, dummy prefix, digits split, no
    normalisation or whitespace folding; unk 0, bos 1, eos 2, no pad) and write it as a Hub-style directory:
    tokenizer.model, tokenizer_config.json (add_bos_token true, add_eos_token false),
    special_tokens_map.json."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        add_dummy_prefix=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        character_coverage=0.99995,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,  # deterministic
        minloglevel=2,
    )
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, TOKENIZER_MODEL)
    with open(path, "wb") as f:
        f.write(model.getvalue())
    tok = SentencePieceTokenizer(path)
    _write_json(
        os.path.join(directory, TOKENIZER_CONFIG),
        {**tok._config(), "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer", "legacy": True},
    )
    _write_json(
        os.path.join(directory, SPECIAL_TOKENS_MAP),
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    )
    return tok
