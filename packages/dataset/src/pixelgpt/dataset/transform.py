"""One document -> its samples: clean, chunk to fit a strip and a token row, tokenize, render, align.

    to_samples = DocToSamples(renderer_config, tokenizer, max_tokens=1024, max_doc_chars=2_000_000)
    samples = to_samples(doc)        # list[schema.Sample], or raises Rejected(reason)

Pure: no files, no Ray. Every chunk fits both budgets (patches, end patch included, and tokens, special tokens
included), so nothing downstream ever crops a sample.
"""

from __future__ import annotations

import numpy as np

from pixelgpt.dataset import schema
from pixelgpt.dataset.align import token_patches
from pixelgpt.dataset.chunking import ChunkError, chunk_spans
from pixelgpt.dataset.clean import clean_document
from pixelgpt.dataset.sources import Doc
from pixelgpt.dataset.tokenizers import Tokenizer


class Rejected(ValueError):
    """A document that cannot become samples; the message is the reject reason ("<kind>: <detail>")."""


class DocToSamples:
    def __init__(self, renderer_config, tokenizer: Tokenizer, max_tokens: int, max_doc_chars: int):
        from pixelgpt.renderer import Renderer

        self.renderer = Renderer(renderer_config)
        self.tokenizer = tokenizer
        self.max_patches = renderer_config.max_patches
        self.max_tokens = max_tokens
        self.max_doc_chars = max_doc_chars
        self._last: tuple[str, tuple[np.ndarray, np.ndarray]] | None = None

    def encode(self, chunk: str) -> tuple[np.ndarray, np.ndarray]:
        """The tokenizer's (ids, offsets) of `chunk`, remembered for the next call: chunking tokenizes each
        chunk it settles on, and its sample then needs the same tokens (half the tokenizing, saved)."""
        if self._last is None or self._last[0] != chunk:
            self._last = (chunk, self.tokenizer.encode(chunk))
        return self._last[1]

    def token_starts(self, chunk: str) -> np.ndarray:
        """First character of each token of `chunk` (-1 for special tokens, which cover no character)."""
        _, offsets = self.encode(chunk)
        return np.where(offsets[:, 1] > offsets[:, 0], offsets[:, 0], -1)

    def __call__(self, doc: Doc) -> list[schema.Sample]:
        if not doc.text.strip():
            raise Rejected("empty" if not doc.text else "whitespace only")
        if len(doc.text) > self.max_doc_chars:
            raise Rejected(f"too long: {len(doc.text)} characters > max_doc_chars {self.max_doc_chars}")
        text = clean_document(doc.text)
        if not text:
            raise Rejected("empty after normalisation")
        r = self.renderer
        try:
            spans = chunk_spans(text, r.measure, r.char_extents, r.config, self.token_starts, self.max_tokens)
        except ChunkError as e:
            raise Rejected(f"unchunkable: {e}") from None
        return [self._sample(doc, k, text[s:e]) for k, (s, e) in enumerate(spans)]

    def _sample(self, doc: Doc, k: int, chunk: str) -> schema.Sample:
        enc = self.renderer.render(chunk)
        if enc.patches.shape[0] > self.max_patches:
            raise Rejected(f"render: chunk {k} has {enc.patches.shape[0]} patches > {self.max_patches}")
        ids, offsets = self.encode(chunk)
        if len(ids) > self.max_tokens:  # chunking re-tokenizes the same text: this is a safety net
            raise Rejected(f"tokenizer: chunk {k} has {len(ids)} tokens > max_tokens {self.max_tokens}")
        if len(ids) == 0:
            raise Rejected(f"tokenizer: chunk {k} has no tokens")
        return schema.Sample(
            patches=enc.patches,
            tokens=ids,
            token_patches=token_patches(offsets, enc.char_patches),
            text=chunk,
            source=doc.source,
            doc_id=doc.doc_id,
            chunk=k,
        )
