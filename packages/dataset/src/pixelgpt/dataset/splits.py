"""Train / held-out splits of a corpus, by document.

A document is held out iff a 64-bit hash of its source and id falls in the first `fraction` of the hash
range. Its split therefore depends on nothing else (not on partitioning, file order, workers or reruns): the
two splits are disjoint, together they are the corpus, and a document seen in training is never evaluated on.
"""

from __future__ import annotations

import xxhash

SPLITS = ("train", "heldout")


def is_heldout(source: str, doc_id: str, fraction: float) -> bool:
    digest = xxhash.xxh64_intdigest(f"{source}\x00{doc_id}".encode("utf-8", "surrogatepass"))
    return digest < int(fraction * 2**64)
