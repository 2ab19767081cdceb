"""Fine-tuning inputs: Example -> a model input per modality -> right-padded batches (docs/paper-facts.md:
Fine-tuning).

    enc = Encoder("pair", tokenizer=tok, renderer_config=rcfg, max_tokens=512, max_patches=512)
    data = FinetuneDataset(examples, enc)          # encodes in __getitem__, so DataLoader workers can render
    loader = DataLoader(data, batch_size=8, collate_fn=Collator(enc))

- text:  the checkpoint's tokenizer; a pair is `<s> A <s> B` (Tokenizer.encode_pair), cut to max_tokens
         longest-first like the released tokenizer call (`truncation=True`).
- pixel: either the pre-rendered strip of the data files (Example.image, (16, W, 3), cropped to max_patches
         and padded with white; the mask covers num_patches + 1 positions, capped), or rendered on the fly
         with the project's renderer after PIXEL's `glue_strip_spaces` normalisation (a pair as render_pair:
         a, black separator, b, black end patch). Render modes rgb | gray | binary (PIL's 'L' luma;
         binary: grey > 127).
- pair:  the strip, always padded to max_patches, followed by the tokens: one sequence. The fixed image
         length matters: RoPE positions run on through padded patch slots, so the text's positions (and hence
         its logits) would otherwise depend on the longest image in the batch.

Padding is on the right everywhere; padded positions carry mask 0 (white patches, token id 0).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import torch

from pixelgpt.renderer import Renderer, RendererConfig
from pixelgpt.renderer.text import drawable_text, max_chars

Modality = Literal["text", "pixel", "pair"]
RenderMode = Literal["rgb", "gray", "binary"]
PixelSource = Literal["auto", "render", "image"]
MODALITIES: tuple[str, ...] = ("text", "pixel", "pair")
RENDER_MODES: tuple[str, ...] = ("rgb", "gray", "binary")
PIXEL_SOURCES: tuple[str, ...] = ("auto", "render", "image")
BINARY_THRESHOLD = 127  # the released emohate script: grey > 127 -> white, else black
WHITE = 255

# PIXEL's GLUE normalisation (src/pixel/utils/misc.py): these replacements, in this order, on each text before
# it is rendered. Later rules see the output of earlier ones (e.g. ` "` runs before `" `).
_GLUE_STRIP_RULES = (
    (" ,", ","),
    (" .", "."),
    (" !", "!"),
    (" ?", "?"),
    (" #", "#"),
    (" /", "/"),
    (' "', '"'),
    ('" ', '"'),
    (" '", "'"),
    ("' ", "'"),
    (" n't", "n't"),
    ("( ", "("),
    (" )", ")"),
    ("[ ", "["),
    (" ]", "]"),
)


def glue_strip_spaces(text: str) -> str:
    """Remove the spaces GLUE's tokenised text puts around punctuation, as PIXEL does before rendering."""
    for old, new in _GLUE_STRIP_RULES:
        text = text.replace(old, new)
    return text


# ---------------------------------------------------------------------------------------------- render modes


def grey_values(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB -> uint8 (...) grey, exactly as PIL's convert('L') (ITU-R 601-2 luma in 16-bit fixed
    point, rounded)."""
    x = rgb.astype(np.uint32)
    return ((x[..., 0] * 19595 + x[..., 1] * 38470 + x[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def apply_render_mode(patches: np.ndarray, mode: str) -> np.ndarray:
    """uint8 (..., 3) -> uint8 (..., 3): rgb unchanged; gray and binary carry one grey value in all three
    channels (the classifier scales them by 1/3 so that the patch projection equals the released code's
    channel-averaged, single-channel conv; see model.PixelTextClassifier)."""
    if mode == "rgb":
        return patches
    grey = grey_values(patches)
    if mode == "binary":
        grey = np.where(grey > BINARY_THRESHOLD, WHITE, 0).astype(np.uint8)
    elif mode != "gray":
        raise ValueError(f"render_mode: want one of {RENDER_MODES}, got {mode!r}")
    return np.repeat(grey[..., None], 3, axis=-1)


def strip_to_patches(strip: np.ndarray, patch_size: int) -> np.ndarray:
    """(P, n*P, 3) -> (n, P, P, 3), the renderer's patch layout (Rendering.strip inverted)."""
    p = patch_size
    n = strip.shape[1] // p
    return strip[:, : n * p].reshape(p, n, p, strip.shape[2]).transpose(1, 0, 2, 3)


def image_patches(image: np.ndarray, num_patches: int, max_patches: int, patch_size: int) -> np.ndarray:
    """A pre-rendered strip -> its real patches: the first min(num_patches + 1, max_patches) (text + end
    patch), white where the stored strip is narrower than that (the mask would cover them anyway)."""
    n = min(num_patches + 1, max_patches)
    need = n * patch_size
    strip = image[:, :need]
    if strip.shape[1] < need:
        pad = np.full((strip.shape[0], need - strip.shape[1], strip.shape[2]), WHITE, np.uint8)
        strip = np.concatenate([strip, pad], axis=1)
    return strip_to_patches(strip, patch_size)


def check_image(image: Any, patch_size: int) -> str | None:
    """Why a pre-rendered strip cannot be used (None: it can)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return "image: not a uint8 array"
    if image.ndim != 3 or image.shape[0] != patch_size or image.shape[2] != 3:
        return f"image: want ({patch_size}, W, 3), got {tuple(image.shape)}"
    return None


# ------------------------------------------------------------------------------------------------- encoding


def truncate_pair(a: list[int], b: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Longest-first truncation of two token lists to `budget` tokens in all: tokens come off the end of the
    longer list (the second on a tie), as transformers' `truncation=True` does for a pair."""
    excess = len(a) + len(b) - budget
    if excess <= 0:
        return a, b
    longer_a = len(a) > len(b)
    gap = abs(len(a) - len(b))
    if gap >= excess:  # only the longer one shrinks
        return (a[: len(a) - excess], b) if longer_a else (a, b[: len(b) - excess])
    keep_b = max(budget // 2, 0)  # both shrink to halves; a keeps the odd token
    keep_a = max(budget - keep_b, 0)
    return a[:keep_a], b[:keep_b]


@dataclasses.dataclass
class Encoded:
    """One example ready to batch: token ids and/or patches (only the real ones), the label, and whether the
    input was cut to the length limit."""

    idx: int  # the example's idx; FinetuneDataset replaces it with the position in the dataset
    label: float | int | None
    input_ids: np.ndarray | None = None  # int64 (t,)
    patches: np.ndarray | None = None  # uint8 (n, P, P, 3)
    truncated: bool = False


class Encoder:
    """Turns Examples into model inputs for one modality. Picklable: a DataLoader worker builds its own
    renderer on first use."""

    def __init__(
        self,
        modality: str,
        *,
        tokenizer: Any = None,
        renderer_config: RendererConfig | None = None,
        max_tokens: int = 768,
        max_patches: int = 768,
        render_mode: str = "rgb",
        pixel_source: str = "auto",
        strip_spaces: bool = True,
    ) -> None:
        if modality not in MODALITIES:
            raise ValueError(f"modality: want one of {MODALITIES}, got {modality!r}")
        if render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode: want one of {RENDER_MODES}, got {render_mode!r}")
        if pixel_source not in PIXEL_SOURCES:
            raise ValueError(f"pixel_source: want one of {PIXEL_SOURCES}, got {pixel_source!r}")
        if modality != "pixel" and tokenizer is None:
            raise ValueError(f"modality {modality!r} needs a tokenizer")
        self.modality = modality
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.max_patches = max_patches
        self.render_mode = render_mode
        self.pixel_source = pixel_source
        self.strip_spaces = strip_spaces
        base = renderer_config or RendererConfig()
        self.renderer_config = dataclasses.replace(base, max_patches=max_patches)
        self.patch_size = self.renderer_config.patch_size
        self._renderer: Renderer | None = None
        self._specials = self._special_counts(tokenizer) if tokenizer is not None else (0, 0)

    # -- pickling: the renderer holds C resources and is rebuilt where it is used
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_renderer"] = None
        return state

    @property
    def uses_text(self) -> bool:
        return self.modality in ("text", "pair")

    @property
    def uses_pixels(self) -> bool:
        return self.modality in ("pixel", "pair")

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(self.renderer_config)
        return self._renderer

    @staticmethod
    def has_image(example: Any) -> bool:
        """A stored strip (decoded, or kept as PNG bytes by the reader) with its num_patches."""
        stored = (
            getattr(example, "image", None) is not None or getattr(example, "image_png", None) is not None
        )
        return stored and getattr(example, "num_patches", None) is not None

    def pixel_source_of(self, example: Any) -> str:
        """'image' (the stored strip) or 'render' for this example."""
        if self.pixel_source == "image" or (self.pixel_source == "auto" and self.has_image(example)):
            return "image"
        return "render"

    def check(self, example: Any) -> str | None:
        """Why this example cannot be encoded (None: it can). Cheap: nothing is rendered or tokenised."""
        if not self.uses_pixels:
            return None
        if self.pixel_source_of(example) == "image":
            if not self.has_image(example):
                return "no pre-rendered image (data.pixel_source=image)"
            # A decoded strip is checked here; PNG bytes were checked (height) by the reader
            return check_image(example.image, self.patch_size) if example.image is not None else None
        try:  # the renderer refuses control characters and lone surrogates
            for text in example.texts:
                drawable_text(text, self.renderer_config.newline, max_chars(self.renderer_config.width_px))
        except (ValueError, TypeError) as e:
            return f"cannot render: {e}"
        return None

    def encode(self, example: Any) -> Encoded:
        out = Encoded(idx=int(example.idx), label=example.label)
        if self.uses_pixels:
            out.patches, cut = self._pixels(example)
            out.truncated |= cut
        if self.uses_text:
            out.input_ids, cut = self._tokens(example.texts)
            out.truncated |= cut
        return out

    # -- pixels
    def _pixels(self, example: Any) -> tuple[np.ndarray, bool]:
        if self.pixel_source_of(example) == "image":
            num = int(example.num_patches)
            image = example.image if example.image is not None else example.pixels()
            patches = image_patches(image, num, self.max_patches, self.patch_size)
            cut = num + 1 > self.max_patches
        else:
            texts = [glue_strip_spaces(t) if self.strip_spaces else t for t in example.texts]
            r = self.renderer.render(texts[0]) if len(texts) == 1 else self.renderer.render_pair(*texts[:2])
            patches = r.patches
            if patches.shape[-1] == 1:  # a grey renderer config (rgb=False): the model reads 3 channels
                patches = np.repeat(patches, 3, axis=-1)
            # The end patch landed on the last slot: the text may have been clipped there
            cut = r.num_text_patches + 1 >= self.max_patches
        return apply_render_mode(patches, self.render_mode), cut

    # -- tokens
    @staticmethod
    def _special_counts(tokenizer: Any) -> tuple[int, int]:
        """How many special tokens encode() puts before and after a text's own tokens."""
        head = int(bool(tokenizer.add_bos and tokenizer.bos_id is not None))
        tail = int(bool(tokenizer.add_eos and tokenizer.eos_id is not None))
        return head, tail

    def _tokens(self, texts: tuple[str, ...]) -> tuple[np.ndarray, bool]:
        head, tail = self._specials
        parts = [self.tokenizer.encode(t)[0].tolist() for t in texts[:2]]
        total = sum(len(p) for p in parts)
        if total <= self.max_tokens:
            return np.asarray([i for p in parts for i in p], np.int64), False
        # Cut the texts' own tokens, keeping each segment's special tokens (as transformers does)
        inner = [p[head : len(p) - tail] for p in parts]
        frame = [(p[:head], p[len(p) - tail :]) for p in parts]
        budget = max(self.max_tokens - (head + tail) * len(parts), 0)
        if len(inner) == 1:
            inner = [inner[0][:budget]]
        else:
            inner = list(truncate_pair(inner[0], inner[1], budget))
        ids = [i for (pre, post), body in zip(frame, inner) for i in (*pre, *body, *post)]
        return np.asarray(ids[: self.max_tokens], np.int64), True


# ------------------------------------------------------------------------------------------ dataset, batches


class FinetuneDataset(torch.utils.data.Dataset):
    """Examples encoded on access (in DataLoader workers when there are any). Which examples were cut to the
    length limit is recorded in shared memory, so counts from worker processes reach the main process."""

    def __init__(self, examples: list, encoder: Encoder) -> None:
        self.examples = examples
        self.encoder = encoder
        self.truncated = torch.zeros(len(examples), dtype=torch.uint8).share_memory_()

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Encoded:
        enc = self.encoder.encode(self.examples[i])
        enc.idx = i  # the position in this dataset: example idx need not be unique across merged files
        if enc.truncated:
            self.truncated[i] = 1
        return enc

    @property
    def num_truncated(self) -> int:
        return int(self.truncated.sum())


def split_checks(examples: list, encoder: Encoder, labelled: bool) -> tuple[list, list[tuple[int, str]]]:
    """(usable examples, [(idx, reason)] rejected) for one split; `labelled`: every example needs a label
    (training and model selection)."""
    used, rejected = [], []
    for ex in examples:
        reason = "no label" if labelled and ex.label is None else encoder.check(ex)
        if reason is None:
            used.append(ex)
        else:
            rejected.append((int(ex.idx), reason))
    return used, rejected


class Collator:
    """Right-pads Encoded examples into a batch dict of tensors:

    input_ids (B, T) int64, attention_mask (B, T) bool            text, pair
    patches (B, n, P, P, 3) uint8 (white padding), patch_mask (B, n) bool   pixel, pair
    labels (B,) int64 | float32 (unlabelled rows: -1 | nan), idx (B,) int64

    Pixel-only batches pad to the longest strip (positions after a row's end patch cannot reach it under
    causal attention); pair batches always pad the strip to max_patches (see the module docstring)."""

    def __init__(self, encoder: Encoder, regression: bool = False, pad_to_multiple: int = 1) -> None:
        self.modality = encoder.modality
        self.max_patches = encoder.max_patches
        self.patch_size = encoder.patch_size
        self.regression = regression
        self.pad_to_multiple = max(int(pad_to_multiple), 1)

    def __call__(self, items: list[Encoded]) -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = {}
        if self.modality in ("pixel", "pair"):
            fixed = self.max_patches if self.modality == "pair" else None
            batch["patches"], batch["patch_mask"] = self._pad_patches([it.patches for it in items], fixed)
        if self.modality in ("text", "pair"):
            batch["input_ids"], batch["attention_mask"] = self._pad_tokens([it.input_ids for it in items])
        batch["labels"] = self._labels([it.label for it in items])
        batch["idx"] = torch.tensor([it.idx for it in items], dtype=torch.int64)
        return batch

    def _round(self, n: int) -> int:
        m = self.pad_to_multiple
        return -(-n // m) * m

    def _pad_patches(self, rows: list[np.ndarray], fixed: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        n = fixed if fixed is not None else self._round(max(len(r) for r in rows))
        p = self.patch_size
        out = np.full((len(rows), n, p, p, 3), WHITE, np.uint8)
        mask = np.zeros((len(rows), n), bool)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
            mask[i, : len(r)] = True
        return torch.from_numpy(out), torch.from_numpy(mask)

    def _pad_tokens(self, rows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        t = self._round(max(max(len(r) for r in rows), 1))
        out = np.zeros((len(rows), t), np.int64)
        mask = np.zeros((len(rows), t), bool)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
            mask[i, : len(r)] = True
        return torch.from_numpy(out), torch.from_numpy(mask)

    def _labels(self, labels: list) -> torch.Tensor:
        if self.regression:
            return torch.tensor(
                [float("nan") if v is None else float(v) for v in labels], dtype=torch.float32
            )
        return torch.tensor([-1 if v is None else int(v) for v in labels], dtype=torch.int64)
