"""The modality mixture: which modality (text, image, pair) each micro-batch trains on.

Micro-batches are modality-pure. The modality of micro-batch `m` of optimizer step `s` is a pure function
of (seed, s, m): position p = s * microbatches_per_step + m falls in block p // B of a sequence of balanced
blocks (B = the ratio's integer weights summed, e.g. 4:4:2 -> 2:2:1, B = 5), each block a seeded permutation
of its counts. Every rank computes the same value, a resumed run the same sequence, and any window of W
consecutive micro-batches is off the ratio by at most about B/W (B <= 20 is enforced; the tests check the
+-1% target over every 1,000-window for the variants' ratios).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

MODALITIES = ("text", "image", "pair")
MAX_BLOCK = 20

# The default ratio of each variant (text:image:pair).
VARIANT_MIXTURES: dict[str, dict[str, int]] = {
    "textgpt": {"text": 1, "image": 0, "pair": 0},
    "pixelgpt": {"text": 0, "image": 1, "pair": 0},
    "monogpt": {"text": 1, "image": 1, "pair": 0},
    "dualgpt": {"text": 4, "image": 4, "pair": 2},
}


class Mixture:
    def __init__(self, weights: Mapping[str, int], seed: int, microbatches_per_step: int = 1) -> None:
        unknown = set(weights) - set(MODALITIES)
        if unknown:
            raise ValueError(f"mixture: unknown modality {sorted(unknown)}, expected {list(MODALITIES)}")
        w = [weights.get(m, 0) for m in MODALITIES]
        if any(not isinstance(x, int) or isinstance(x, bool) or x < 0 for x in w):
            raise ValueError(f"mixture: weights must be non-negative integers, got {dict(weights)}")
        if sum(w) == 0:
            raise ValueError("mixture: all weights are 0")
        g = math.gcd(*w)
        self.counts = tuple(x // g for x in w)
        self.block = sum(self.counts)
        if self.block > MAX_BLOCK:
            raise ValueError(
                f"mixture: {dict(weights)} reduces to a block of {self.block} micro-batches; keep it <= "
                f"{MAX_BLOCK} (use smaller integers) so every 1,000-step window stays within 1% of the ratio"
            )
        if microbatches_per_step < 1:
            raise ValueError(f"microbatches_per_step must be >= 1, got {microbatches_per_step}")
        self.seed = int(seed)
        self.microbatches_per_step = microbatches_per_step
        self._base = np.repeat(np.arange(len(MODALITIES)), self.counts)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities with a non-zero weight."""
        return tuple(m for m, c in zip(MODALITIES, self.counts) if c)

    def fractions(self) -> dict[str, float]:
        return {m: c / self.block for m, c in zip(MODALITIES, self.counts)}

    def modality(self, step: int, microbatch: int = 0) -> str:
        if not 0 <= microbatch < self.microbatches_per_step:
            raise ValueError(f"microbatch {microbatch} outside [0, {self.microbatches_per_step})")
        pos = step * self.microbatches_per_step + microbatch
        block, offset = divmod(pos, self.block)
        return MODALITIES[self._block(block)[offset]]

    @lru_cache(maxsize=64)  # noqa: B019 - a Mixture lives as long as a run
    def _block(self, block: int) -> tuple[int, ...]:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, block])))
        return tuple(int(x) for x in rng.permutation(self._base))
