"""Train a tokenizer on a sample of the job's inputs: a SentencePiece BPE with Llama-2's settings, or a
byte-level BPE tokenizer.json (Hugging Face tokenizers).

examples:
  python pipelines/train_tokenizer.py --kind sentencepiece --input pes2o='data/*.json.gz' \
      --vocab-size 32000 --output tokenizers/mine        # tokenizer.model + tokenizer_config.json + ...
  python pipelines/train_tokenizer.py --samples --vocab-size 2000 --output tok.json   # byte-level BPE

The sample is the first --max-docs documents of each source in sorted file order (deterministic), normalised
as the render job normalises them. Both kinds prepend BOS like Llama-2. Use the result with
`render_corpus.py --tokenizer tokenizers/mine` (or `--tokenizer tok.json`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from pixelgpt.dataset import storage
from pixelgpt.dataset.clean import clean_document
from pixelgpt.dataset.sources import BUILTIN, Doc, read_source
from pixelgpt.dataset.tokenizers import train_bpe, train_sentencepiece


def sample_texts(inputs: dict[str, list[str]], max_docs: int):
    with tempfile.TemporaryDirectory(prefix="pixelgpt-tok-") as scratch:
        for source in sorted(inputs):
            files = sorted({f for pattern in inputs[source] for f in storage.expand(pattern)})
            n = 0
            for uri in files:
                for item in read_source(uri, source, BUILTIN[source], scratch):
                    if isinstance(item, Doc) and (text := clean_document(item.text)):
                        yield text
                        n += 1
                        if n >= max_docs:
                            break
                if n >= max_docs:
                    break


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--input", action="append", default=[], metavar="SOURCE=GLOB", help="a source and a glob; repeatable"
    )
    p.add_argument("--samples", action="store_true", help="train on the embedded sample corpus")
    p.add_argument(
        "--kind",
        choices=("bpe", "sentencepiece"),
        default="bpe",
        help="bpe: a byte-level BPE tokenizer.json; sentencepiece: a SentencePiece BPE with Llama-2's "
        "settings (byte fallback, dummy prefix, unk 0 / bos 1 / eos 2), written as a Hub-style directory",
    )
    p.add_argument("--vocab-size", type=int, default=32000, help="vocabulary size (32000)")
    p.add_argument("--max-docs", type=int, default=100_000, help="documents per source (100000)")
    p.add_argument(
        "--output", required=True, help="the tokenizer.json (bpe) or the directory (sentencepiece)"
    )
    args = p.parse_args(argv)
    inputs: dict[str, list[str]] = {}
    if args.samples:
        from pixelgpt.dataset.samples import sample_inputs

        inputs = sample_inputs()
    for item in args.input:
        source, sep, pattern = item.partition("=")
        if not sep or source not in BUILTIN:
            p.error(f"--input: want SOURCE=GLOB with SOURCE one of {sorted(BUILTIN)}, got {item!r}")
        inputs.setdefault(source, []).append(pattern)
    if not inputs:
        p.error("give --input SOURCE=GLOB (repeatable) or --samples")
    try:
        texts = sample_texts(inputs, args.max_docs)
        if args.kind == "sentencepiece":
            tok = train_sentencepiece(texts, args.vocab_size, args.output)
        else:
            tok = train_bpe(texts, args.vocab_size, args.output)
    except (FileNotFoundError, RuntimeError) as e:
        print(f"train_tokenizer: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: vocab {tok.vocab_size}, fingerprint {tok.fingerprint()[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
