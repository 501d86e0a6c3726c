"""SigLIP and SigLIP 2 (fixed-resolution) vision towers: no class token, MAP pooling head."""

from __future__ import annotations

from torch import Tensor, nn

from neuroflow.models.blocks import Block
from neuroflow.models.tower import VisionTower


class SiglipTower(VisionTower):
    """Adapter over ``SiglipVisionModel`` (also the FixRes SigLIP 2 checkpoints).

    Pooling is ``head(post_layernorm(tokens))``: the multi-head attention pooling (MAP)
    head attends over whatever tokens it is given, so Arch B feeds it the active tokens
    and Arch C the full cortical cache.
    """

    family = "siglip"

    def __init__(self, model: nn.Module) -> None:
        if not getattr(model.config, "vision_use_head", True):
            raise ValueError(
                "SigLIP towers without the MAP head (vision_use_head=False) are unsupported"
            )
        super().__init__(model)

    def _make_blocks(self) -> list[Block]:
        return [Block.from_clip_style(layer) for layer in self.hf.encoder.layers]

    def _patch_conv(self) -> nn.Conv2d:
        return self.hf.embeddings.patch_embedding

    def _position_weight(self) -> Tensor:
        return self.hf.embeddings.position_embedding.weight

    def pool(self, hidden: Tensor) -> Tensor:
        return self.hf.head(self.hf.post_layernorm(hidden))
