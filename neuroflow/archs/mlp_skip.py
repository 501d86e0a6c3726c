"""Architecture A: every token attends, only active tokens run the MLP.

In a pre-norm block ``h = h + attn(ln1(h)); h = h + mlp(ln2(h))`` the MLP branch is a
token-wise residual update. Active tokens compute it; inactive tokens add their *keyframe
anchor*, the MLP update the same block produced for that patch on the last frame it was
active (the first frame after a reset is dense, so every anchor exists). With
``anchor="none"`` inactive tokens skip the MLP branch altogether (the paper's collapse
ablation). Attention stays over all tokens, so the speedup is bounded by the MLP share.
The head pools over every token with the folded ``fast_pool``, like dense, C and D.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from neuroflow.archs.base import Architecture, ArchOutput, StreamState
from neuroflow.archs.registry import register_method
from neuroflow.core.packing import make_packing, pack, unpack_into
from neuroflow.core.protocols import Gate
from neuroflow.models.tower import Embedded, VisionTower

AnchorMode = Literal["keyframe", "none"]


@register_method
class ArchA(Architecture):
    """MLP skipped for inactive tokens, with a keyframe anchor per block.

    Args:
        tower: The vision tower.
        gate: The retinal gate (first frame must be dense: it sets the anchors).
        anchor: ``"keyframe"`` (reuse the last computed MLP update) or ``"none"``.
    """

    name = "A"

    def __init__(self, tower: VisionTower, gate: Gate, anchor: AnchorMode = "keyframe"):
        if anchor not in ("keyframe", "none"):
            raise ValueError(f"anchor must be 'keyframe' or 'none', got {anchor!r}")
        if not gate.config.dense_first_frame:
            raise ValueError("Arch A needs dense_first_frame=True to set its keyframe anchors")
        super().__init__(tower, gate)
        self.anchor = anchor

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        # Attention (projections and matmuls) on every token, the MLP on the kept ones.
        return bd.block_cost(bd.tokens, bd.layers, mlp_tokens=n)

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        packing = make_packing(self.full_keep(gated.keep_mask))
        x = emb.tokens
        anchors = None
        if self.anchor == "keyframe":
            anchors = state.buffer("anchors", (len(self.tower.blocks), *x.shape), x)
        for layer, block in enumerate(self.tower.blocks):
            x = x + block.attention_delta(x)
            update = block.mlp_delta(pack(x, packing))
            delta = anchors[layer] if anchors is not None else torch.zeros_like(x)
            x = x + unpack_into(delta, update, packing)
        return self.output(self.tower.fast_pool(x), gated, emb)
