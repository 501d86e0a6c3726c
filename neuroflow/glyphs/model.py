"""The mini SigLIP: an unchanged HF ``SiglipModel`` at glyph size, and its processor.

Vision: 32x32 input, patch 4 (64 tokens), MAP head. Text: a word-level vocabulary and
``padding="max_length"`` so the last position (which SigLIP's text tower pools) is always
a pad slot. The position table starts from 2-D sin-cos values (still learned), which the
from-scratch prototypes needed to learn glyph shape within CPU minutes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from transformers import (
    PreTrainedTokenizerFast,
    SiglipConfig,
    SiglipModel,
    SiglipProcessor,
    SiglipTextConfig,
    SiglipVisionConfig,
)
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

LOGIT_SCALE_INIT = math.log(10.0)
LOGIT_BIAS_INIT = -10.0
PIXEL_MEAN = (0.5, 0.5, 0.5)
PIXEL_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class ModelSize:
    """Tower sizes of the mini SigLIP.

    Attributes:
        image_size: Input side in pixels.
        patch_size: Patch side in pixels.
        hidden: Vision (and text) width.
        mlp: MLP width of every block.
        layers: Vision blocks.
        heads: Attention heads (vision and text).
        text_layers: Text blocks.
        max_length: Text positions (captions are padded to this length).
    """

    image_size: int = 32
    patch_size: int = 4
    hidden: int = 128
    mlp: int = 512
    layers: int = 4
    heads: int = 4
    text_layers: int = 2
    max_length: int = 16


def siglip_config(size: ModelSize, vocab_size: int, pad_id: int) -> SiglipConfig:
    """The HF config of a mini SigLIP of ``size`` over a ``vocab_size`` vocabulary."""
    vision = SiglipVisionConfig(
        image_size=size.image_size,
        patch_size=size.patch_size,
        hidden_size=size.hidden,
        intermediate_size=size.mlp,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        vision_use_head=True,
    )
    text = SiglipTextConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.mlp,
        num_hidden_layers=size.text_layers,
        num_attention_heads=size.heads,
        max_position_embeddings=size.max_length,
        projection_size=size.hidden,
        pad_token_id=pad_id,
        bos_token_id=pad_id,
        eos_token_id=pad_id,
    )
    return SiglipConfig(text_config=text.to_dict(), vision_config=vision.to_dict())


def sincos_2d(side: int, dim: int) -> torch.Tensor:
    """``[side * side, dim]`` 2-D sine-cosine position table (rows then columns).

    Half of the channels encode the row, half the column, each as sines and cosines at
    geometrically spaced frequencies.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position table needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    coords = torch.arange(side, dtype=torch.float64)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angle = pos.reshape(-1, 1) * omega[None]
        return torch.cat([angle.sin(), angle.cos()], dim=1)

    return torch.cat([encode(rows), encode(cols)], dim=1).float()


def build_model(size: ModelSize, vocab_size: int, pad_id: int, seed: int = 0) -> SiglipModel:
    """A freshly initialised mini SigLIP with sin-cos positions and SigLIP's logit init.

    HF's ``_init_weights`` zeroes ``logit_scale`` and ``logit_bias``; the SigLIP paper
    starts from ``log 10`` and ``-10`` (a strongly negative prior: most pairs are
    negatives), so both are set here by hand.
    """
    torch.manual_seed(seed)
    model = SiglipModel(siglip_config(size, vocab_size, pad_id))
    side = size.image_size // size.patch_size
    with torch.no_grad():
        model.vision_model.embeddings.position_embedding.weight.copy_(sincos_2d(side, size.hidden))
        model.logit_scale.fill_(LOGIT_SCALE_INIT)
        model.logit_bias.fill_(LOGIT_BIAS_INIT)
    return model


def build_processor(tokenizer: PreTrainedTokenizerFast, image_size: int) -> SiglipProcessor:
    """A ``SiglipProcessor`` (resize, rescale 1/255, normalise to [-1, 1]) around ``tokenizer``.

    The PIL image-processor backend is used because torchvision is not a dependency.
    """
    images = SiglipImageProcessorPil(
        size={"height": image_size, "width": image_size},
        image_mean=list(PIXEL_MEAN),
        image_std=list(PIXEL_STD),
    )
    return SiglipProcessor(image_processor=images, tokenizer=tokenizer)


def size_dict(size: ModelSize) -> dict:
    """JSON-friendly view of a :class:`ModelSize`."""
    return asdict(size)
