"""Packed rows (several samples per row, `positions` restarting at each) against the unpacked model run on
each sample alone: equal logits, pooled losses and gradients for text, pixels and pairs; FlexAttention and
the dense mask agree; the step compiles with fullgraph=True (no host syncs, no graph breaks)."""

from __future__ import annotations

import pytest
import torch

from pixelgpt.model import ModelConfig, PixelTextGPT

P = (16, 16, 3)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PixelTextGPT(ModelConfig.tiny())


def make_samples(lengths: list[tuple[int, int]], seed: int = 0) -> list[dict]:
    """(patches, tokens) per sample: random uint8 patches and ids."""
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "patches": torch.randint(0, 256, (n, *P), generator=g, dtype=torch.uint8),
            "tokens": torch.randint(0, 512, (t,), generator=g),
        }
        for n, t in lengths
    ]


def pack_by_hand(samples: list[dict], rows: list[list[int]], length: int, modality: str) -> dict:
    """Rows laid out as the model's docstring says, written out plainly: each sample's patches and/or tokens
    one after another (a pair: its patches, then its tokens), positions 0.. per sample, white/0 padding whose
    positions run on from the row's last sample."""
    b = len(rows)
    ids = torch.zeros(b, length, dtype=torch.long)
    amask = torch.zeros(b, length, dtype=torch.long)
    patches = torch.full((b, length, *P), 255, dtype=torch.uint8)
    pmask = torch.zeros(b, length, dtype=torch.long)
    positions = torch.zeros(b, length, dtype=torch.long)
    for r, members in enumerate(rows):
        j = 0
        for i in members:
            s = samples[i]
            n = len(s["patches"]) if modality != "text" else 0
            t = len(s["tokens"]) if modality != "pixel" else 0
            patches[r, j : j + n], pmask[r, j : j + n] = s["patches"][:n], 1
            ids[r, j + n : j + n + t], amask[r, j + n : j + n + t] = s["tokens"][:t], 1
            positions[r, j : j + n + t] = torch.arange(n + t)
            j += n + t
        positions[r, j:] = positions[r, j - 1] + 1 + torch.arange(length - j)
    batch = {"positions": positions}
    if modality != "pixel":
        batch |= {"input_ids": ids, "attention_mask": amask}
    if modality != "text":
        batch |= {"patches": patches, "patch_mask": pmask}
    return batch


def alone(model, s: dict, modality: str):
    """The unpacked model on one sample, no padding."""
    inputs = {"text": {"input_ids": s["tokens"][None]}, "pixel": {"patches": s["patches"][None]}}
    inputs["pair"] = {**inputs["text"], **inputs["pixel"]}
    return model(**inputs[modality])


def pooled_reference(model, samples, modality):
    """Losses of the samples each alone, pooled over all targets as one batch pools them: sum / count."""
    text_sum = text_count = pixel_sum = pixel_count = 0.0
    outs = []
    for s in samples:
        out = alone(model, s, modality)
        outs.append(out)
        n, t = len(s["patches"]), len(s["tokens"])
        if modality != "pixel":
            count = t if modality == "pair" else t - 1  # a pair's token 0 is predicted from its end patch
            text_sum, text_count = text_sum + out.text_loss * count, text_count + count
        if modality != "text":
            pixel_sum, pixel_count = pixel_sum + out.pixel_loss * (n - 1), pixel_count + n - 1
    loss = 0.0
    if modality != "pixel":
        loss = loss + text_sum / text_count
    if modality != "text":
        loss = loss + pixel_sum / pixel_count
    return loss, outs


def grads_of(model, loss) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


# Mixed lengths (patches, tokens); row 1 holds one sample that fills it exactly, most others end in padding.
LENGTHS = [(5, 7), (3, 4), (9, 2), (12, 12), (2, 9), (6, 1), (1, 5)]
ROWS = {
    "text": [[0, 1], [3], [4, 5], [2, 6]],
    "pixel": [[0, 1, 4], [3], [2, 6], [5]],
    "pair": [[0, 1], [3], [5, 6, 2], [4]],  # [5, 6, 2]: three samples filling the row
}
LENGTH = {"text": 12, "pixel": 12, "pair": 24}


@pytest.mark.parametrize("modality", ["text", "pixel", "pair"])
def test_packed_rows_equal_each_sample_alone(model, modality):
    samples = make_samples(LENGTHS)
    packed = pack_by_hand(samples, ROWS[modality], LENGTH[modality], modality)
    out = model(**packed)
    ref_loss, ref_outs = pooled_reference(model, samples, modality)

    # every sample's own predictions, read back from its place in the packed rows
    for r, members in enumerate(ROWS[modality]):
        j = 0
        for i in members:
            n = len(samples[i]["patches"]) if modality != "text" else 0
            t = len(samples[i]["tokens"]) if modality != "pixel" else 0
            ref = ref_outs[i]
            if modality != "text":
                torch.testing.assert_close(out.patch_pred[r, j : j + n], ref.patch_pred[0], atol=1e-5, rtol=0)
            if modality != "pixel":
                got = out.token_logits[r, j + n : j + n + t]
                torch.testing.assert_close(got, ref.token_logits[0], atol=1e-5, rtol=0)
            if modality == "pair":  # the logits at the end patch predict token 0
                end = model.token_head(ref.hidden_states[0, n - 1])
                torch.testing.assert_close(out.token_logits[r, j + n - 1], end, atol=1e-5, rtol=0)
            j += n + t

    torch.testing.assert_close(out.loss, ref_loss, atol=1e-5, rtol=0)
    g_packed, g_ref = grads_of(model, out.loss), grads_of(model, ref_loss)
    assert g_packed.keys() == g_ref.keys()
    for name in g_ref:
        torch.testing.assert_close(g_packed[name], g_ref[name], atol=1e-5, rtol=1e-4, msg=name)


def test_a_sample_does_not_see_its_row_neighbours(model):
    """Changing the first sample of a row changes nothing of the second: attention and RoPE are per sample."""
    samples = make_samples([(4, 6), (5, 5)])
    a = pack_by_hand(samples, [[0, 1]], 24, "pair")
    other = make_samples([(6, 3), (5, 5)], seed=9)
    other[1] = samples[1]
    b = pack_by_hand(other, [[0, 1]], 24, "pair")
    with torch.no_grad():
        ha, hb = model(**a).hidden_states, model(**b).hidden_states
    torch.testing.assert_close(ha[0, 10:20], hb[0, 9:19], atol=1e-5, rtol=0)


@pytest.mark.parametrize("modality", ["text", "pair"])
def test_flex_attention_equals_the_dense_mask(model, modality):
    samples = make_samples(LENGTHS)
    packed = pack_by_hand(samples, ROWS[modality], LENGTH[modality], modality)
    dense = model(**packed)
    g_dense = grads_of(model, dense.loss)
    model.packed_attention = "flex"  # eager FlexAttention: runs on the CPU (the fused kernel needs CUDA)
    try:
        flex = model(**packed)
        g_flex = grads_of(model, flex.loss)
    finally:
        model.packed_attention = "auto"
    torch.testing.assert_close(flex.loss, dense.loss, atol=1e-5, rtol=0)
    for name in g_dense:
        torch.testing.assert_close(g_flex[name], g_dense[name], atol=1e-5, rtol=1e-4, msg=name)


def test_activation_checkpointing_changes_nothing(model):
    samples = make_samples(LENGTHS)
    packed = pack_by_hand(samples, ROWS["pair"], LENGTH["pair"], "pair")
    plain = grads_of(model, model(**packed).loss)
    model.activation_checkpointing = True
    try:
        recomputed = grads_of(model, model(**packed).loss)
    finally:
        model.activation_checkpointing = False
    for name in plain:
        torch.testing.assert_close(recomputed[name], plain[name], atol=1e-6, rtol=1e-5, msg=name)


def test_right_padded_single_modality_rows_need_no_mask(model):
    """Only a padded pair (padding mid-row) and packed rows build a mask; right padding stays plain causal."""
    seen = []
    hook = model.blocks[0].attn.register_forward_pre_hook(lambda m, args: seen.append(args[3]))
    ids, amask = torch.randint(0, 512, (2, 6)), torch.tensor([[1] * 6, [1] * 3 + [0] * 3])
    patches = torch.randint(0, 256, (2, 5, *P), dtype=torch.uint8)
    pmask = torch.tensor([[1] * 5, [1] * 2 + [0] * 3])
    try:
        with torch.no_grad():
            model(input_ids=ids, attention_mask=amask)
            model(patches=patches, patch_mask=pmask)
            model(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask)
    finally:
        hook.remove()
    assert seen[0] is None and seen[1] is None
    assert isinstance(seen[2], torch.Tensor) and seen[2].shape == (2, 1, 11, 11)


def test_bad_packed_inputs_fail_naming_them(model):
    ids = torch.randint(0, 512, (2, 6))
    with pytest.raises(ValueError, match="positions"):
        model(input_ids=ids, positions=torch.zeros(2, 5, dtype=torch.long))
    patches = torch.zeros(2, 6, *P, dtype=torch.uint8)
    with pytest.raises(ValueError, match="packed pair row needs"):
        model(input_ids=ids, patches=patches, positions=torch.zeros(2, 6, dtype=torch.long))


def compile_cases() -> dict[str, dict]:
    ids, amask = torch.randint(0, 512, (2, 6)), torch.tensor([[1] * 6, [1] * 3 + [0] * 3])
    patches = torch.randint(0, 256, (2, 5, *P), dtype=torch.uint8)
    pmask = torch.tensor([[1] * 5, [1] * 2 + [0] * 3])
    samples = make_samples([(3, 4), (2, 3), (4, 2)])
    return {
        "text": dict(input_ids=ids, attention_mask=amask),
        "pixel": dict(patches=patches, patch_mask=pmask),
        "pair": dict(input_ids=ids, attention_mask=amask, patches=patches, patch_mask=pmask),
        "packed pair": pack_by_hand(samples, [[0, 1], [2]], 12, "pair"),
        "packed text": pack_by_hand(samples, [[0, 1], [2]], 8, "text"),
        "packed pixel": pack_by_hand(samples, [[0, 1], [2]], 8, "pixel"),
    }


def check_compiled_step(backend: str, names: list[str]) -> None:
    torch.manual_seed(0)
    m = PixelTextGPT(ModelConfig.tiny(n_layer=1, d_model=64, n_head=2, n_kv_head=1, d_ff=128))
    compiled = torch.compile(m, fullgraph=True, dynamic=False, backend=backend)
    cases = compile_cases()
    for name in names:
        inputs = cases[name]
        eager_out = m(**inputs)
        eager = grads_of(m, eager_out.loss)
        out = compiled(**inputs)
        got = grads_of(m, out.loss)
        torch.testing.assert_close(out.loss, eager_out.loss, atol=1e-5, rtol=0, msg=name)
        for key in eager:
            torch.testing.assert_close(got[key], eager[key], atol=1e-5, rtol=1e-4, msg=f"{name} {key}")


def test_the_training_step_traces_as_one_graph():
    """forward + loss + backward of every modality, padded and packed, under torch.compile(fullgraph=True):
    a host sync (.item(), a branch on data) would be a graph break, hence an error. aot_eager traces the
    forward and backward graphs exactly as inductor receives them, without generating code (20 s instead of
    ~7 min for inductor's CPU code, which passes too); the SDPA paths: plain causal, key mask (padded pair),
    dense sample mask (packed rows)."""
    check_compiled_step("aot_eager", list(compile_cases()))
