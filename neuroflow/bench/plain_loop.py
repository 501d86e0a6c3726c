"""The plain loop: the straightforward way to skip static patches, kept as a yardstick.

One stream at a time: embed the frame, run the retinal gate, copy the active indices to the
host, gather those tokens, run the Hugging Face encoder layers on them, scatter the outputs
into the stream's cache of final-layer tokens and pool over the whole cache with the model's
own head. No packing, no fused paths. An optimised architecture should never be slower.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from neuroflow.archs.base import StreamState
from neuroflow.archs.pruned import ArchC
from neuroflow.bench.methods import BenchMethod
from neuroflow.core.gate import GateConfig, RetinalGate
from neuroflow.models.tower import VisionTower


def hf_layers(tower: VisionTower) -> nn.ModuleList:
    """The HF encoder layers behind ``tower`` (SigLIP/CLIP ``encoder.layers``, ViT ``layers``)."""
    hf = tower.hf
    layers = getattr(hf, "layers", None)
    if layers is None:
        layers = getattr(getattr(hf, "encoder", None), "layers", None)
    if layers is None:
        raise TypeError(f"cannot find the encoder layers of {type(hf).__name__}")
    return layers


class PlainLoop(BenchMethod):
    """Gate, host-side index gather, HF layers on the active tokens, cache scatter, pool.

    Args:
        tower: The vision tower.
        gate: Gate settings (``dense_first_frame`` must be on: the first frame fills the cache).
    """

    name = "plain"
    cost_model = "C (HF head)"

    def __init__(self, tower: VisionTower, gate: GateConfig) -> None:
        if not gate.dense_first_frame:
            raise ValueError("the plain loop needs dense_first_frame=True to fill its cache")
        self.tower, self.gate = tower, RetinalGate(gate)
        self.layers = hf_layers(tower)

    def flops(self, bd: Any, k: float) -> float:
        return ArchC.frame_flops(bd, k, hf_head=True)  # C's work, pooled by the HF head

    def new_state(self, batch: int) -> StreamState:
        return StreamState(batch, self.gate)

    def _encode(self, tokens: Tensor) -> Tensor:
        for layer in self.layers:
            tokens = layer(tokens, None)
        return tokens

    def __call__(self, pixels: Tensor, state: StreamState) -> Tensor:
        return self.forward_pooled(pixels, state)[1]

    def forward_pooled(self, pixels: Tensor, state: StreamState) -> tuple[Tensor, Tensor]:
        """One frame per stream: ``(embedding [B, D], keep fraction [B])``."""
        emb = self.tower.embed(pixels)
        assert state.gate is not None
        gated = self.gate.step(emb.gate_features(self.gate.config.signal), state.gate)
        cache = state.buffer("cache", tuple(emb.tokens.shape), emb.tokens)
        prefix = list(range(self.tower.num_prefix_tokens))
        for b in range(pixels.shape[0]):
            active = gated.keep_mask[b].nonzero().flatten().tolist()  # host sync
            index = torch.tensor(prefix + [i + len(prefix) for i in active], device=cache.device)
            cache[b, index] = self._encode(emb.tokens[b : b + 1, index])[0]
        return self.tower.pool(cache), gated.keep_fraction
