"""The reader side: the dataset yields what was written; collation pads and masks like a hand-made batch."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pixelgpt.dataset.collate import Collator
from pixelgpt.dataset.streaming import PixelTextDataset, ShardSet
from pixelgpt.train.micro_batches import select_modality


def test_collate_matches_a_hand_made_batch():
    a = {"tokens": np.array([5, 6, 7], np.int32), "patches": np.zeros((2, 16, 16, 3), np.uint8)}
    b = {"tokens": np.array([9], np.int32), "patches": np.full((3, 16, 16, 3), 7, np.uint8)}
    batch = Collator(max_tokens=8, max_patches=8, pad_id=0)([a, b])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [9, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["patch_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch["patches"].shape == (2, 3, 16, 16, 3) and batch["patches"].dtype == torch.uint8
    assert int(batch["patches"][0, 2].min()) == 255  # padding is white
    assert int(batch["patches"][0, :2].max()) == 0 and int(batch["patches"][1].float().mean()) == 7


def test_collate_never_crops_and_pads_to_max():
    a = {
        "tokens": np.arange(10, dtype=np.int32),
        "patches": np.zeros((6, 16, 16, 3), np.uint8),
        "doc_id": "d7",
    }
    with pytest.raises(ValueError, match=r"'d7' chunk \?: 10 tokens > max_tokens 4"):
        Collator(max_tokens=4, max_patches=8)([a])
    with pytest.raises(ValueError, match="6 patches > max_patches 5"):
        Collator(max_tokens=12, max_patches=5)([a])
    fixed = Collator(max_tokens=12, max_patches=8, pad_to_max=True)([a])
    assert fixed["input_ids"].shape == (1, 12) and fixed["attention_mask"].sum() == 10
    assert fixed["patches"].shape == (1, 8, 16, 16, 3) and fixed["patch_mask"].sum() == 6


def test_collate_rejects_bad_patches():
    with pytest.raises(ValueError, match="patches: want uint8"):
        Collator()([{"tokens": np.array([1]), "patches": np.zeros((2, 16, 16), np.uint8)}])


def test_select_modality():
    batch = {k: torch.zeros(1) for k in ("input_ids", "attention_mask", "patches", "patch_mask")}
    assert set(select_modality(batch, "text")) == {"input_ids", "attention_mask"}
    assert set(select_modality(batch, "image")) == {"patches", "patch_mask"}
    assert set(select_modality(batch, "pair")) == set(batch)
    with pytest.raises(ValueError, match="modality must be one of"):
        select_modality(batch, "audio")


def test_dataset_reads_back_what_was_written(shard_set, tmp_path):
    path, written = shard_set
    ds = PixelTextDataset([ShardSet(path)], cache=str(tmp_path / "cache"), batch_size=4, shuffle=False)
    assert ds.num_samples == len(written)
    assert ds.tokenizer["name"] == "byte" and ds.max_tokens == 128
    for i in (0, 7, len(written) - 1):
        got = ds[i]
        assert got["text"] == written[i]["text"]
        assert got["patches"].shape[-1] == 3 and np.array_equal(got["patches"], written[i]["patches"])
        assert np.array_equal(got["tokens"], written[i]["tokens"])
        # byte tokenizer: BOS (256), then the text's UTF-8 bytes
        assert got["tokens"].tolist() == [256, *got["text"].encode("utf-8")] and len(got["tokens"]) <= 128
    # the published folder is only read: no decompressed copies appear next to the shards
    parts = [d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and d != "stats"]
    assert parts and not [f for d in parts for f in os.listdir(os.path.join(path, d)) if f.endswith(".mds")]
    loader = DataLoader(ds, batch_size=4, collate_fn=Collator(max_tokens=128, max_patches=64), drop_last=True)
    batches = list(loader)
    assert len(batches) == len(written) // 4
    # unshuffled, one rank: the samples in written order, each row padded after its own tokens
    rows = [(ids, m) for b in batches for ids, m in zip(b["input_ids"], b["attention_mask"])]
    for (ids, mask), w in zip(rows, written):
        assert ids[mask.bool()].tolist() == w["tokens"].tolist()
