"""CLIP vision tower: class token, pre-encoder LayerNorm, class-token pooling with post-LN."""

from __future__ import annotations

from torch import Tensor, nn

from neuroflow.models.blocks import Block
from neuroflow.models.tower import VisionTower


class ClipTower(VisionTower):
    """Adapter over ``CLIPVisionModel``; the class token is always kept active.

    The pooled embedding is ``post_layernorm(cls)`` before CLIP's visual projection (the
    HF ``pooler_output``); zero-shot code applies the projection.
    """

    family = "clip"
    num_prefix_tokens = 1

    def _make_blocks(self) -> list[Block]:
        return [Block.from_clip_style(layer) for layer in self.hf.encoder.layers]

    def _patch_conv(self) -> nn.Conv2d:
        return self.hf.embeddings.patch_embedding

    def _position_weight(self) -> Tensor:
        return self.hf.embeddings.position_embedding.weight

    def _class_tokens(self) -> Tensor:
        return self.hf.embeddings.class_embedding.view(1, -1)

    def pre_encoder_norm(self, tokens: Tensor) -> Tensor:
        return self.hf.pre_layrnorm(tokens)

    def pool(self, hidden: Tensor) -> Tensor:
        return self.hf.post_layernorm(hidden[:, 0])
