"""ViT (HF ``ViTModel``) tower: class token, final LayerNorm, optional tanh pooler."""

from __future__ import annotations

from torch import Tensor, nn

from neuroflow.models.blocks import Block
from neuroflow.models.tower import VisionTower


class VitTower(VisionTower):
    """Adapter over ``ViTModel``; the class token is always kept active.

    Pooling follows HF: ``pooler(layernorm(tokens))`` when the model has a pooling layer,
    otherwise the normalised class token.
    """

    family = "vit"
    num_prefix_tokens = 1

    def _make_blocks(self) -> list[Block]:
        return [
            Block(
                layer.layernorm_before,
                layer.attention.q_proj,
                layer.attention.k_proj,
                layer.attention.v_proj,
                layer.attention.o_proj,
                layer.attention.num_attention_heads,
                layer.layernorm_after,
                layer.mlp,
            )
            for layer in self.hf.layers
        ]

    def _patch_conv(self) -> nn.Conv2d:
        return self.hf.embeddings.patch_embeddings.projection

    def _position_weight(self) -> Tensor:
        return self.hf.embeddings.position_embeddings[0]

    def _class_tokens(self) -> Tensor:
        return self.hf.embeddings.cls_token[0]

    def pool(self, hidden: Tensor) -> Tensor:
        hidden = self.hf.layernorm(hidden)
        if self.hf.pooler is not None:
            return self.hf.pooler(hidden)
        return hidden[:, 0]
