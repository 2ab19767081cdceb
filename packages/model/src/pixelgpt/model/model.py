"""PixelTextGPT: one decoder for TextGPT, PixelGPT, MonoGPT and DualGPT (docs/paper-facts.md §3).

The variants differ only in the data they see. A batch is text (input_ids), pixels (patches) or a pair (both):
a pair is one sequence [patches][tokens] whose RoPE positions run on through padded patch slots; padded keys
are masked, so padding in the middle of the sequence changes nothing at real positions.

Packed rows (`positions` given, what the trainer feeds): a row of L positions holds several samples one after
another, then right padding. positions (B, L) counts from 0 at the start of each sample and runs on through
the padding, so a sample is where its positions restart. Every given tensor then has L positions; in a pair
row position j is a patch where patch_mask[j] is set and a token where attention_mask[j] is, each sample laid
out [its patches][its tokens]. A position attends only within its own sample, RoPE restarts with each sample,
and position j predicts position j+1 only when that continues j's sample, so each sample's losses are those of
the sample alone (and a pair's first token is predicted from its end patch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pixelgpt.model.config import ModelConfig
from pixelgpt.model.layers import AttentionMask, Block, RMSNorm, RotaryEmbedding, document_block_mask
from pixelgpt.model.losses import mean_loss, patch_mse_sum, token_ce_sum

PackedAttention = Literal["auto", "flex", "dense"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class ModelOutput:
    loss: torch.Tensor | None  # text_loss + pixel_loss over the present modalities
    text_loss: torch.Tensor | None  # NTP, float32
    pixel_loss: torch.Tensor | None  # NPP, float32
    token_logits: torch.Tensor | None  # (B, T, V): logits at token j predict token j+1 (packed: (B, L, V))
    patch_pred: torch.Tensor | None  # (B, n, 768): prediction at patch t of normalised patch t+1 (packed: L)
    hidden_states: torch.Tensor | None = None  # (B, n+T, d) after the final norm (packed: (B, L, d))
    text_targets: torch.Tensor | None = None  # () int: the targets text_loss averages (no host sync to count)
    pixel_targets: torch.Tensor | None = None  # () int: likewise for pixel_loss


class PatchEmbedding(nn.Module):
    """Linear map of a flattened 16x16x3 patch (= conv 16x16 stride 16, with bias), then LayerNorm."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(cfg.patch_dim, cfg.d_model, bias=True)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        # in the dtype the weights compute in: FSDP2's mixed precision gathers them in bf16 without autocast
        return self.norm(self.proj(patches.to(self.proj.weight.dtype)))


class PixelTextGPT(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.patch_embedding = PatchEmbedding(config)
        self.rope = RotaryEmbedding(config.head_dim, config.rope_theta, config.max_seq_len)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.token_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.pixel_head = nn.Linear(config.d_model, config.patch_dim, bias=False)
        # Runtime switches: they change speed and memory, never the maths, so they are not in the config.
        # Kernel of packed rows: "auto" = FlexAttention on CUDA (skips the blocks across samples), a dense
        # (B,1,L,L) mask with SDPA elsewhere (compiled FlexAttention needs CUDA in torch 2.7).
        self.packed_attention: PackedAttention = "auto"
        self.check_ids = False  # also range-check ids on an accelerator (a host sync per call; see below)
        self.reset_parameters()

    @property
    def activation_checkpointing(self) -> bool:
        """Recompute each block in the backward pass (less activation memory, about 1/3 more compute)."""
        return all(block.recompute for block in self.blocks)

    @activation_checkpointing.setter
    def activation_checkpointing(self, on: bool) -> None:
        for block in self.blocks:
            block.recompute = bool(on)

    def modality_modules(self) -> dict[str, list[nn.Module]]:
        """The input embedding and output head of each modality: a variant that never sees one leaves them
        untrained (the released checkpoints carry both anyway)."""
        return {
            "text": [self.token_embedding, self.token_head],
            "pixels": [self.patch_embedding, self.pixel_head],
        }

    def reset_parameters(self) -> None:
        for module in self.modules():
            self.init_module(module)

    def init_module(self, module: nn.Module) -> None:
        """The paper code's init for one module (also usable as an FSDP meta-device param_init_fn):
        normal(0, 0.02) for Linear and Embedding weights, zero Linear biases, ones/zeros for norms; the patch
        projection (a conv there) gets a Xavier-uniform weight and PyTorch's default bias init."""
        if module is self.patch_embedding.proj:
            nn.init.xavier_uniform_(module.weight)
            bound = 1.0 / module.in_features**0.5
            nn.init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.init_std)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (RMSNorm, nn.LayerNorm)):
            nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    # ----------------------------------------------------------------------------------------------- forward

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        patches: torch.Tensor | None = None,
        patch_mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> ModelOutput:
        """input_ids (B,T) int, attention_mask (B,T) 1 = real token; patches (B,n,16,16,3) uint8 or float in
        [0,1], patch_mask (B,n) 1 = real patch. Masks mark right padding and default to all ones. Text,
        pixels or both (a pair). positions (B,L) int: packed rows (module docstring), all tensors L long."""
        text, pixels = self._check_inputs(input_ids, attention_mask, patches, patch_mask, positions)
        if positions is not None:
            return self._forward_packed(
                input_ids if text else None,
                attention_mask,
                patches if pixels else None,
                patch_mask,
                positions,
            )
        h, patch_values, patch_mask, attention_mask = self._encode(
            input_ids if text else None, attention_mask, patches if pixels else None, patch_mask
        )
        n = patch_values.shape[1] if pixels else 0
        patch_pred = self.pixel_head(h[:, :n]) if pixels else None
        token_logits = self.token_head(h[:, n:]) if text else None
        text_sc = pixel_sc = None  # (sum, count) of each loss
        if pixels:
            pixel_sc = patch_mse_sum(patch_pred[:, :-1], patch_values[:, 1:], patch_mask[:, 1:])
        if text and pixels:
            text_sc = self._pair_text_loss(h[:, :n], patch_mask, token_logits, input_ids, attention_mask)
        elif text:
            text_sc = token_ce_sum(token_logits[:, :-1], input_ids[:, 1:], attention_mask[:, 1:])
        return self._output(text_sc, pixel_sc, token_logits, patch_pred, h)

    def hidden_states(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        patches: torch.Tensor | None = None,
        patch_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, n+T, d) after the final norm, without the heads (what a classifier reads): the same inputs as
        forward, unpacked; a pair is [patches][tokens]."""
        text, pixels = self._check_inputs(input_ids, attention_mask, patches, patch_mask, None)
        return self._encode(
            input_ids if text else None, attention_mask, patches if pixels else None, patch_mask
        )[0]

    def _encode(self, input_ids, attention_mask, patches, patch_mask):
        """Embeddings -> blocks -> final norm for unpacked rows. Returns (h, patch values, patch mask, token
        mask), the masks as bools (all ones where not given)."""
        # A single-modality row is right-padded, which is causal-safe: padded keys come after every real
        # query. Only a pair whose image is padded has padding mid-row, so only then are keys masked.
        padded_image = input_ids is not None and patches is not None and patch_mask is not None
        parts, patch_values = [], None
        if patches is not None:
            b, n = patches.shape[:2]
            patch_values = self._patch_values(patches)  # (B, n, 768) float in [0, 1]
            patch_mask = self._mask(patch_mask, (b, n), patches.device)
            parts.append(self.patch_embedding(patch_values))
        if input_ids is not None:
            attention_mask = self._mask(attention_mask, input_ids.shape, input_ids.device)
            parts.append(self.token_embedding(input_ids.masked_fill(~attention_mask, 0)))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]  # (B, n+T, d)
        key_valid = torch.cat([patch_mask, attention_mask], dim=1) if padded_image else None
        return self.norm(self._run_blocks(x, key_valid)), patch_values, patch_mask, attention_mask

    def _forward_packed(self, input_ids, attention_mask, patches, patch_mask, positions) -> ModelOutput:
        b, length = positions.shape
        x = None
        if patches is not None:
            patch_values = self._patch_values(patches)  # (B, L, 768) float in [0, 1]
            patch_mask = self._mask(patch_mask, (b, length), patches.device)
            x = self.patch_embedding(patch_values)
        if input_ids is not None:
            attention_mask = self._mask(attention_mask, (b, length), input_ids.device)
            tokens = self.token_embedding(input_ids.masked_fill(~attention_mask, 0))
            # a pair row: the patch embedding where a patch is, the token embedding elsewhere
            x = tokens if x is None else torch.where(patch_mask[..., None], x, tokens)
        h = self.norm(self._run_blocks(x, positions=positions))  # (B, L, d)

        # j predicts j+1 when j+1 is real and continues j's sample (positions restart at 0 with each sample)
        continues = positions[:, 1:] != 0
        token_logits = patch_pred = text_sc = pixel_sc = None
        if input_ids is not None:
            token_logits = self.token_head(h)
            text_sc = token_ce_sum(token_logits[:, :-1], input_ids[:, 1:], attention_mask[:, 1:] & continues)
        if patches is not None:
            patch_pred = self.pixel_head(h)
            pixel_sc = patch_mse_sum(patch_pred[:, :-1], patch_values[:, 1:], patch_mask[:, 1:] & continues)
        return self._output(text_sc, pixel_sc, token_logits, patch_pred, h)

    @staticmethod
    def _output(text_sc, pixel_sc, token_logits, patch_pred, h) -> ModelOutput:
        """The losses as means over their targets, and their sum; text_sc/pixel_sc: (sum, count) or None."""
        text_loss = mean_loss(*text_sc) if text_sc else None
        pixel_loss = mean_loss(*pixel_sc) if pixel_sc else None
        present = [loss for loss in (text_loss, pixel_loss) if loss is not None]
        loss = present[0] if len(present) == 1 else present[0] + present[1]
        return ModelOutput(
            loss, text_loss, pixel_loss, token_logits, patch_pred, h,
            text_targets=text_sc[1] if text_sc else None,
            pixel_targets=pixel_sc[1] if pixel_sc else None,
        )  # fmt: skip

    def _run_blocks(
        self, x: torch.Tensor, key_valid: torch.Tensor | None = None, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (B, L, d) through the blocks. key_valid (B, L) bool: the keys a query may see besides the causal
        rule (padding mid-row); positions (B, L): packed rows. Neither: plain causal attention."""
        length = x.shape[1]
        cos, sin = self.rope(length, x.device)  # (L, hd)
        mask: AttentionMask = None  # None = plain causal, the fast SDPA path
        if positions is not None:
            cos, sin = cos[positions].unsqueeze(1), sin[positions].unsqueeze(1)  # (B, 1, L, hd)
            mask = self._sample_mask(positions)
        elif key_valid is not None:
            # Causal and key is real; a query may always see itself, so a padded query row is never all -inf
            # (NaN). Real queries see only real keys, hence padding cannot reach them.
            eye = torch.eye(length, dtype=torch.bool, device=x.device)
            causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
            mask = causal & (key_valid[:, None, None, :] | eye)  # (B, 1, L, L)
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        return x

    def _sample_mask(self, positions: torch.Tensor) -> AttentionMask:
        """Attention of packed rows: causal within each sample. Padding continues the row's last sample, which
        is causal-safe (it comes after every real query of that sample)."""
        doc = (positions == 0).cumsum(dim=1)  # (B, L): index of the sample each position belongs to
        kind = self.packed_attention
        flex = self.config.attention == "sdpa" and (kind == "flex" or kind == "auto" and doc.is_cuda)
        if flex and doc.shape[0] > 0:  # (an empty micro-batch, 0 rows, takes the trivial dense path)
            return document_block_mask(doc)
        length = doc.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=doc.device).tril()
        return (doc[:, None, :, None] == doc[:, None, None, :]) & causal  # (B, 1, L, L)

    def _pair_text_loss(
        self,
        h_patches: torch.Tensor,
        patch_mask: torch.Tensor,
        token_logits: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum, count) of the pair's NTP: token 0 is predicted from the row's last real patch (the end
        patch), token j from token j-1."""
        n = patch_mask.shape[1]
        order = torch.arange(1, n + 1, device=patch_mask.device)
        last = (patch_mask.long() * order).argmax(dim=1)  # index of the last real patch (0 when none)
        has_patch = patch_mask.any(dim=1)
        h_last = h_patches[torch.arange(h_patches.shape[0], device=h_patches.device), last]
        first_sum, first_count = token_ce_sum(
            self.token_head(h_last), input_ids[:, 0], attention_mask[:, 0] & has_patch
        )
        rest_sum, rest_count = token_ce_sum(token_logits[:, :-1], input_ids[:, 1:], attention_mask[:, 1:])
        return first_sum + rest_sum, first_count + rest_count

    # ------------------------------------------------------------------------------------------ input checks

    def _check_inputs(
        self, input_ids, attention_mask, patches, patch_mask, positions=None
    ) -> tuple[bool, bool]:
        """Shapes and dtypes (free: no data is read); ids only where that costs no host sync."""
        cfg = self.config
        # A modality is absent when not given or given with zero positions (B, 0) / (B, 0, 16, 16, 3).
        text = input_ids is not None and not (input_ids.ndim == 2 and input_ids.shape[1] == 0)
        pixels = patches is not None and not (patches.ndim == 5 and patches.shape[1] == 0)
        if not text and not pixels:
            raise ValueError("forward: give input_ids and/or patches with at least one position")
        int_ids = text and not (input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool)
        if text and (input_ids.ndim != 2 or not int_ids):
            raise ValueError(f"input_ids: want int (B, T), got {input_ids.dtype} {tuple(input_ids.shape)}")
        if pixels:
            want = (cfg.patch_size, cfg.patch_size, cfg.channels)
            if patches.ndim != 5 or tuple(patches.shape[2:]) != want:
                raise ValueError(f"patches: want (B, n, *{want}), got {tuple(patches.shape)}")
            if patches.dtype != torch.uint8 and not patches.dtype.is_floating_point:
                raise ValueError(f"patches: want uint8 or float in [0, 1], got {patches.dtype}")
        for name, mask, ref, on in (
            ("attention_mask", attention_mask, input_ids, text),
            ("patch_mask", patch_mask, patches, pixels),
        ):
            if on and mask is not None and tuple(mask.shape) != tuple(ref.shape[:2]):
                raise ValueError(f"{name}: want shape {tuple(ref.shape[:2])}, got {tuple(mask.shape)}")
        if text and pixels and input_ids.shape[0] != patches.shape[0]:
            raise ValueError(f"patches: batch {patches.shape[0]} != input_ids batch {input_ids.shape[0]}")
        if positions is not None:
            rows = [tuple(t.shape[:2]) for t, on in ((input_ids, text), (patches, pixels)) if on]
            if positions.ndim != 2 or positions.dtype.is_floating_point or tuple(positions.shape) != rows[0]:
                raise ValueError(
                    f"positions: want int (B, L) like the rows {rows}, got {tuple(positions.shape)}"
                )
            if text and pixels and (rows[0] != rows[1] or attention_mask is None or patch_mask is None):
                raise ValueError("patches: a packed pair row needs patches and input_ids of the same (B, L) "
                                 "and both masks (which positions are patches, which tokens)")  # fmt: skip
        # An out-of-range id would be an opaque device-side assert on a GPU, but reading the ids there is a
        # host sync per step: ids on the host are always checked, ids on an accelerator only with check_ids
        # (the trainer's collator checks them on the host). Never while compiling: data would break the graph.
        check = text and (self.check_ids or input_ids.device.type == "cpu")
        if check and not torch.compiler.is_compiling():
            real = input_ids if attention_mask is None else input_ids[attention_mask.bool()]
            if real.numel() and (int(real.min()) < 0 or int(real.max()) >= cfg.vocab_size):
                raise ValueError(f"input_ids: real ids must lie in [0, {cfg.vocab_size}), got "
                                 f"[{int(real.min())}, {int(real.max())}]")  # fmt: skip
        return text, pixels

    @staticmethod
    def _mask(mask: torch.Tensor | None, shape, device) -> torch.Tensor:
        return torch.ones(shape, dtype=torch.bool, device=device) if mask is None else mask.bool()

    @staticmethod
    def _patch_values(patches: torch.Tensor) -> torch.Tensor:
        """(B, n, 16, 16, 3) -> (B, n, 768) float in [0, 1], flattened (row, column, channel) like the head"""
        x = patches.flatten(2)
        return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()

    # ------------------------------------------------------------------------------------- sizes and flops

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per component; 'backbone' is everything but the two heads."""

        def count(module: nn.Module) -> int:
            return sum(p.numel() for p in module.parameters())

        counts = {
            "token_embedding": count(self.token_embedding),
            "patch_embedding": count(self.patch_embedding),
            "blocks": count(self.blocks),
            "final_norm": count(self.norm),
            "token_head": count(self.token_head),
            "pixel_head": count(self.pixel_head),
        }
        body = ("token_embedding", "patch_embedding", "blocks", "final_norm")
        counts["backbone"] = sum(counts[k] for k in body)
        counts["total"] = counts["backbone"] + counts["token_head"] + counts["pixel_head"]
        return counts

    def num_parameters(self, include_heads: bool = True) -> int:
        counts = self.parameter_counts()
        return counts["total"] if include_heads else counts["backbone"]

    def flops_per_token(self, seq_len: int, modality: Literal["text", "pixel"] = "text") -> int:
        """Training FLOPs (forward + backward) per position at sequence length seq_len, for MFU.

        6 x (weights of every matmul the position goes through) + 12 x n_layer x d_model x seq_len for the
        attention scores and values (PaLM / nanoGPT convention: the full, not the causal, score matrix).
        A text position uses the token head (its embedding is a lookup); a patch the patch projection and the
        pixel head.
        """
        cfg = self.config
        per_block = sum(p.numel() for name, p in self.blocks[0].named_parameters() if p.ndim == 2)
        matmul = cfg.n_layer * per_block
        if modality == "text":
            matmul += cfg.d_model * cfg.vocab_size
        elif modality == "pixel":
            matmul += 2 * cfg.patch_dim * cfg.d_model
        else:
            raise ValueError(f"modality: want 'text' or 'pixel', got {modality!r}")
        return 6 * matmul + 12 * cfg.n_layer * cfg.d_model * seq_len

    # ---------------------------------------------------------------------------------------- persistence

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write model.safetensors (float32 unless the model is cast) and config.json into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
        config_text = json.dumps(self.config.to_dict(), indent=2, sort_keys=True) + "\n"
        (directory / CONFIG_FILE).write_text(config_text)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> PixelTextGPT:
        directory = Path(directory)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"{directory / name}: missing (written by save_pretrained)")
        config = ModelConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text()))
        with torch.device("meta"):
            model = cls(config)
        model = model.to_empty(device=device)
        model.load_state_dict(load_file(str(directory / WEIGHTS_FILE), device=str(device)), strict=True)
        return model
