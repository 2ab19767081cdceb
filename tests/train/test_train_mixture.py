"""The modality mixture: ratio over 1,000 micro-batches (and every 1,000-window), purity of the function."""

from __future__ import annotations

import numpy as np
import pytest

from pixelgpt.train.mixture import MODALITIES, VARIANT_MIXTURES, Mixture


def sequence(mix: Mixture, steps: range) -> list[str]:
    return [mix.modality(s, m) for s in steps for m in range(mix.microbatches_per_step)]


@pytest.mark.parametrize("variant", sorted(VARIANT_MIXTURES))
@pytest.mark.parametrize("micro", [1, 3])
def test_every_window_of_1000_is_within_1_percent(variant, micro):
    weights = VARIANT_MIXTURES[variant]
    total = sum(weights.values())
    mix = Mixture(weights, seed=1234, microbatches_per_step=micro)
    seq = np.array([MODALITIES.index(m) for m in sequence(mix, range(6000 // micro))])
    for k, name in enumerate(MODALITIES):
        want = 1000 * weights[name] / total  # e.g. 4:4:2 -> 400, 400, 200
        hits = np.concatenate([[0], np.cumsum(seq == k)])
        windows = hits[1000:] - hits[:-1000]  # counts in every window of 1,000 consecutive micro-batches
        assert np.abs(windows - want).max() <= 10, (variant, name, windows.min(), windows.max())
        assert hits[1000] == pytest.approx(want, abs=10)


def test_same_sequence_on_every_rank_and_after_a_resume():
    """A pure function of (seed, step, micro): a fresh instance (another rank, a resumed process) starting at
    any step gives the same modalities as one that ran from step 0."""
    weights = VARIANT_MIXTURES["dualgpt"]
    ran = sequence(Mixture(weights, seed=7, microbatches_per_step=2), range(0, 500))
    resumed = sequence(Mixture(weights, seed=7, microbatches_per_step=2), range(237, 500))
    assert resumed == ran[237 * 2 :]
    other_seed = sequence(Mixture(weights, seed=8, microbatches_per_step=2), range(0, 500))
    assert other_seed != ran  # the seed matters...
    assert sorted(other_seed) == sorted(ran)  # ...but not the counts over whole blocks


def test_blocks_are_shuffled_not_round_robin():
    seq = sequence(Mixture(VARIANT_MIXTURES["dualgpt"], seed=3), range(0, 500))
    blocks = {tuple(seq[i : i + 5]) for i in range(0, 500, 5)}
    assert len(blocks) > 10  # 30 distinct orders of (t, t, i, i, p) exist; a fixed pattern gives 1
    for b in blocks:
        assert sorted(b) == sorted(("text", "text", "image", "image", "pair"))


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"text": 1, "audio": 1}, "unknown modality"),
        ({"text": 0, "image": 0, "pair": 0}, "all weights are 0"),
        ({"text": 1.5, "image": 1}, "non-negative integers"),
        ({"text": -1, "image": 2}, "non-negative integers"),
        ({"text": 13, "image": 7, "pair": 1}, "block of 21"),
    ],
)
def test_bad_mixtures(weights, message):
    with pytest.raises(ValueError, match=message):
        Mixture(weights, seed=0)
