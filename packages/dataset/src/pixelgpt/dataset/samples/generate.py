"""Regenerate the embedded sample corpus deterministically: `python -m pixelgpt.dataset.samples.generate`.

All text is written for this project (sentence banks below, combined with a seeded RNG). The files use the
published formats and field names of the four corpora, two files per source:
    pes2o/train-0000{0,1}-of-00002.json.gz      jsonl.gz: id, text, source, added, created, version
    wikipedia/train-0000{0,1}-of-00002.parquet   id, url, title, text (articles in 12 scripts)
    c4/c4-train.0000{0,1}-of-00002.json.gz       json lines: text, timestamp, url
    the-stack/data-0000{0,1}-of-00002.parquet    content, lang, hexsha, size, ext, max_stars_repo_path, ...
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq

from pixelgpt.dataset.samples.texts import ABSTRACT, CODE, LANGUAGES, WEB

DATA = os.path.join(os.path.dirname(__file__), "data")
SEED = 2404
COMMENT = {"C": "//", "Go": "//", "Haskell": "--", "JavaScript": "//", "Rust": "//", "SQL": "--"}
COMMENT |= {"Python": "#", "Shell": "#"}


def _gz(lines: list[str]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))
    return buf.getvalue()


def _parquet(rows: list[dict], path: str) -> None:
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, path, compression="zstd")


def _pick(rng: random.Random, bank: list[str], k: int) -> list[str]:
    return rng.sample(bank, min(k, len(bank)))


def abstracts(rng: random.Random, n: int) -> list[dict]:
    docs = []
    for i in range(n):
        field = rng.choice(ABSTRACT["fields"])
        parts = [
            rng.choice(ABSTRACT["openings"]).format(field=field),
            *_pick(rng, ABSTRACT["methods"], rng.randint(1, 3)),
            *_pick(rng, ABSTRACT["results"], rng.randint(1, 2)),
            rng.choice(ABSTRACT["closings"]),
        ]
        title = rng.choice(ABSTRACT["titles"]).format(field=field.capitalize())
        full = i % 5 == 0  # s2orc rows carry a longer text with section headings
        text = title + "\n" + " ".join(parts)
        if full:
            body = [
                "\n\nIntroduction\n" + " ".join(_pick(rng, ABSTRACT["methods"], 4)),
                "\n\nResults\n" + " ".join(_pick(rng, ABSTRACT["results"], 4)),
                "\n\nDiscussion\n" + " ".join(_pick(rng, ABSTRACT["closings"], 3)),
            ]
            text += "".join(body)
        year = 1998 + rng.randrange(25)
        docs.append(
            {
                "added": f"2023-01-{1 + i % 28:02d}T00:00:00.000Z",
                "created": f"{year}-{1 + rng.randrange(12):02d}-01T00:00:00.000Z",
                "id": str(10_000_000 + 7919 * i),
                "source": "s2orc" if full else "s2ag",
                "text": text,
                "version": "v2",
            }
        )
    return docs


def articles(rng: random.Random, per_language: int) -> list[dict]:
    docs = []
    page = 1000
    for lang in sorted(LANGUAGES):
        bank = LANGUAGES[lang]
        for j in range(per_language):
            title = bank["titles"][j % len(bank["titles"])]
            sentences = bank["sentences"]
            paragraphs = [
                " ".join(_pick(rng, sentences, rng.randint(3, 6))) for _ in range(rng.randint(2, 4))
            ]
            page += 17
            docs.append(
                {
                    "id": str(page),
                    "url": f"https://{lang}.wikipedia.org/wiki?curid={page}",
                    "title": title,
                    "text": title + "\n\n" + "\n\n".join(paragraphs),
                }
            )
    return docs


def web_pages(rng: random.Random, n: int) -> list[dict]:
    docs = []
    for i in range(n):
        topic = rng.choice(sorted(WEB))
        bank = WEB[topic]
        paragraphs = [" ".join(_pick(rng, bank, rng.randint(2, 5))) for _ in range(rng.randint(1, 4))]
        docs.append(
            {
                "text": "\n".join(paragraphs),
                "timestamp": f"2019-04-{1 + i % 28:02d}T{i % 24:02d}:{(7 * i) % 60:02d}:00Z",
                "url": f"https://www.example-{topic}.org/{topic}/{i:04d}",
            }
        )
    return docs


def code_files(rng: random.Random, variants: int) -> list[dict]:
    rows = []
    for lang in sorted(CODE):
        ext, snippets = CODE[lang]
        for v in range(variants):
            parts = _pick(rng, snippets, rng.randint(1, len(snippets)))
            header = f"{COMMENT[lang]} example {v} of pixelgpt's sample corpus ({lang})"
            content = header + "\n\n" + "\n\n".join(parts).replace("LIMIT", str(10 + 7 * v)) + "\n"
            lines = content.splitlines()
            rows.append(
                {
                    "hexsha": hashlib.sha1(content.encode()).hexdigest(),
                    "size": len(content.encode()),
                    "ext": ext,
                    "lang": lang,
                    "max_stars_repo_path": f"src/example_{v}.{ext}",
                    "max_stars_repo_name": f"pixelgpt-samples/{lang.lower().replace(' ', '-')}",
                    "max_stars_repo_head_hexsha": hashlib.sha1(f"{lang}{v}".encode()).hexdigest(),
                    "max_stars_repo_licenses": ["MIT"],
                    "max_stars_count": (v * 37) % 500,
                    "content": content,
                    "avg_line_length": sum(map(len, lines)) / max(1, len(lines)),
                    "max_line_length": max(map(len, lines)),
                    "alphanum_fraction": sum(c.isalnum() for c in content) / len(content),
                }
            )
    return rows


def main(out: str = DATA) -> None:
    rng = random.Random(SEED)
    sets = {
        "pes2o": abstracts(rng, 120),
        "wikipedia": articles(rng, 6),
        "c4": web_pages(rng, 90),
        "the-stack": code_files(rng, 6),
    }
    for source, docs in sets.items():
        os.makedirs(os.path.join(out, source), exist_ok=True)
        halves = [docs[0::2], docs[1::2]]
        for k, half in enumerate(halves):
            if source == "pes2o":
                path = os.path.join(out, source, f"train-{k:05d}-of-00002.json.gz")
                data = _gz([json.dumps(d, ensure_ascii=False) for d in half])
            elif source == "c4":
                path = os.path.join(out, source, f"c4-train.{k:05d}-of-00002.json.gz")
                data = _gz([json.dumps(d, ensure_ascii=False) for d in half])
            else:
                name = "train" if source == "wikipedia" else "data"
                path = os.path.join(out, source, f"{name}-{k:05d}-of-00002.parquet")
                _parquet(half, path)
                continue
            with open(path, "wb") as f:
                f.write(data)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"wrote {sum(map(len, sets.values()))} documents, {total:,} bytes under {out}")


if __name__ == "__main__":
    main()
