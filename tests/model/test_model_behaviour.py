"""Padding invariance, causality, pair-mode dependencies, persistence and input errors."""

import json

import pytest
import torch

from pixelgpt.model import ConfigError, ModelConfig, PixelTextGPT

B, T, N = 2, 9, 7


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PixelTextGPT(ModelConfig.tiny())


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 512, (B, T), generator=g)
    patches = torch.randint(0, 256, (B, N, 16, 16, 3), generator=g, dtype=torch.uint8)
    amask = torch.ones(B, T, dtype=torch.long)
    amask[1, 5:] = 0
    pmask = torch.ones(B, N, dtype=torch.long)
    pmask[0, 4:] = 0
    return ids, amask, patches, pmask


def loss_and_grads(model, **inputs):
    model.zero_grad(set_to_none=True)
    out = model(**inputs)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out, grads


def assert_same(a, b):
    (out_a, g_a), (out_b, g_b) = a, b
    assert torch.equal(out_a.loss, out_b.loss)
    assert g_a.keys() == g_b.keys()
    for name in g_a:
        assert torch.allclose(g_a[name], g_b[name], atol=1e-7, rtol=0), name


@pytest.mark.parametrize("mode", ["text", "pixel", "pair"])
def test_padding_changes_neither_loss_nor_gradients(model, mode):
    ids, amask, patches, pmask = batch()
    ids2, patches2 = ids.clone(), patches.clone()
    ids2[amask == 0] = torch.tensor([3, 77, 500, 11])  # other pad ids
    patches2[pmask == 0] = 255 - patches2[pmask == 0]  # other padded pixels

    def inputs(i, p):
        d = {"text": dict(input_ids=i, attention_mask=amask), "pixel": dict(patches=p, patch_mask=pmask)}
        d["pair"] = {**d["text"], **d["pixel"]}
        return d[mode]

    a, b = loss_and_grads(model, **inputs(ids, patches)), loss_and_grads(model, **inputs(ids2, patches2))
    assert_same(a, b)
    if mode != "pixel":  # real text positions unchanged even with padding in the middle of a pair
        assert torch.equal(a[0].token_logits[amask.bool()], b[0].token_logits[amask.bool()])


def test_padded_row_matches_the_same_row_alone(model):
    ids, amask, _, _ = batch()
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=amask).token_logits[1, :5]
        alone = model(input_ids=ids[1:, :5]).token_logits[0]
    assert torch.allclose(padded, alone, atol=1e-5)


def test_fully_padded_rows_stay_finite(model):
    ids, amask, patches, pmask = batch()
    pmask[1] = 0  # a pair row without any real patch: no NaN, token 0 simply has no predictor
    out, grads = loss_and_grads(model, input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask)
    assert torch.isfinite(out.loss) and torch.isfinite(out.hidden_states).all()
    assert all(torch.isfinite(g).all() for g in grads.values())


def test_causal_text_and_pixels(model):
    ids, _, patches, _ = batch()
    t = 4
    ids2, patches2 = ids.clone(), patches.clone()
    ids2[:, t + 1] = (ids2[:, t + 1] + 1) % 512
    patches2[:, t + 1] = 255 - patches2[:, t + 1]
    with torch.no_grad():
        a, b = model(input_ids=ids), model(input_ids=ids2)
        assert torch.equal(a.token_logits[:, : t + 1], b.token_logits[:, : t + 1])
        assert not torch.allclose(a.token_logits[:, t + 1], b.token_logits[:, t + 1])
        a, b = model(patches=patches), model(patches=patches2)
        assert torch.equal(a.patch_pred[:, : t + 1], b.patch_pred[:, : t + 1])
        assert not torch.allclose(a.patch_pred[:, t + 1], b.patch_pred[:, t + 1])


def test_pair_text_sees_the_image_and_the_image_ignores_the_text(model):
    ids, amask, patches, pmask = batch()
    with torch.no_grad():
        base = model(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask)
        other_image = patches.clone()
        other_image[:, 1] = 255 - other_image[:, 1]  # a real patch of both rows
        seen = model(input_ids=ids, attention_mask=amask, patches=other_image, patch_mask=pmask)
        other_text = (ids + 5) % 512
        blind = model(input_ids=other_text, attention_mask=amask, patches=patches, patch_mask=pmask)
    assert abs(seen.text_loss.item() - base.text_loss.item()) > 1e-4
    assert torch.equal(blind.patch_pred, base.patch_pred) and torch.equal(blind.pixel_loss, base.pixel_loss)
    assert abs(blind.text_loss.item() - base.text_loss.item()) > 1e-4


def test_sdpa_and_naive_agree_with_padding(model):
    ids, amask, patches, pmask = batch()
    naive = PixelTextGPT(ModelConfig.tiny(attention="naive"))
    naive.load_state_dict(model.state_dict())
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask)
        b = naive(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask)
    assert torch.allclose(a.loss, b.loss, atol=1e-5)
    assert torch.allclose(a.patch_pred, b.patch_pred, atol=1e-4)


def test_uint8_and_float_patches_are_the_same_input(model):
    _, _, patches, pmask = batch()
    with torch.no_grad():
        a = model(patches=patches, patch_mask=pmask)
        b = model(patches=patches.float() / 255.0, patch_mask=pmask)
    assert torch.equal(a.pixel_loss, b.pixel_loss)


def test_same_seed_same_losses():
    ids, amask, patches, pmask = batch()
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        m = PixelTextGPT(ModelConfig.tiny())
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        losses = []
        for _ in range(3):
            loss = m(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append(losses)
    assert runs[0] == runs[1]


def test_save_and_load_round_trip(model, tmp_path):
    ids, amask, patches, pmask = batch()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["d_model"] == 128
    loaded = PixelTextGPT.from_pretrained(tmp_path)
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask)
        b = loaded(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask)
    assert torch.equal(a.loss, b.loss)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "dropout": 0.1}))
    with pytest.raises(ConfigError, match="dropout"):
        PixelTextGPT.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json: missing"):
        PixelTextGPT.from_pretrained(tmp_path / "nowhere")


def test_rope_cache_grows_past_max_seq_len(model):
    short = PixelTextGPT(ModelConfig.tiny(max_seq_len=4))
    short.load_state_dict(model.state_dict())
    ids = batch()[0]
    with torch.no_grad():
        assert torch.allclose(short(input_ids=ids).token_logits, model(input_ids=ids).token_logits, atol=1e-6)


@pytest.mark.parametrize(
    ("inputs", "name"),
    [
        (dict(), "input_ids and/or patches"),
        (dict(input_ids=torch.tensor([[1, 512]])), "input_ids"),
        (dict(input_ids=torch.tensor([[1.0, 2.0]])), "input_ids"),
        (dict(input_ids=torch.tensor([[1, 2]]), attention_mask=torch.ones(1, 3)), "attention_mask"),
        (dict(patches=torch.zeros(1, 2, 16, 16)), "patches"),
        (dict(patches=torch.zeros(16, 16, 3)), "patches"),
        (dict(input_ids=torch.tensor([1, 2])), "input_ids"),
        (dict(patches=torch.zeros(1, 2, 16, 16, 3, dtype=torch.int32)), "patches"),
        (dict(patches=torch.zeros(1, 2, 16, 16, 3), patch_mask=torch.ones(1, 3)), "patch_mask"),
        (dict(input_ids=torch.tensor([[1, 2]]), patches=torch.zeros(2, 2, 16, 16, 3)), "patches"),
    ],
)
def test_bad_input_fails_naming_it(model, inputs, name):
    with pytest.raises(ValueError, match=name):
        model(**inputs)


def test_absent_or_empty_modality_has_no_loss(model):
    ids, _, patches, _ = batch()
    out = model(input_ids=ids, patches=patches[:, :0])
    assert out.pixel_loss is None and out.patch_pred is None and out.loss is out.text_loss
    out = model(input_ids=ids[:, :0], patches=patches)
    assert out.text_loss is None and out.token_logits is None and out.loss is out.pixel_loss


def test_meta_build_then_init_matches_the_paper_init():
    """The FSDP path: build on meta, materialise, re-init; weights follow normal(0, 0.02), norms are ones."""
    with torch.device("meta"):
        m = PixelTextGPT(ModelConfig.tiny(vocab_size=4096))
    m = m.to_empty(device="cpu")
    torch.manual_seed(0)
    m.reset_parameters()
    w = m.token_head.weight
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    assert abs(m.blocks[0].mlp.up_proj.weight.std().item() - 0.02) < 2e-3
    assert torch.equal(m.blocks[1].attn_norm.weight, torch.ones(128))
    assert torch.equal(m.patch_embedding.norm.bias, torch.zeros(128))
    xavier = (6 / (768 + 128)) ** 0.5  # Xavier-uniform bound of the patch projection
    assert 0.9 * xavier < m.patch_embedding.proj.weight.abs().max().item() <= xavier
    assert torch.isfinite(m(input_ids=batch()[0]).loss)


def test_model_package_imports_no_trainer_or_data_stack():
    import subprocess
    import sys

    code = (
        "import sys, pixelgpt.model; "
        "bad = {m.split('.')[0] for m in sys.modules} & {'composer', 'streaming', 'ray'}; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
