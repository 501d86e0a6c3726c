"""Architectures that remove inactive tokens from the encoder: B, C and D.

* **B** runs the encoder and the pooling head on the active tokens only.
* **C** runs the encoder on the active tokens, writes their final-layer outputs into the
  cortical cache, and pools over all N cached tokens.
* **D** runs the first ``dense_layers`` blocks on every token, the rest on the active
  tokens only, then pools over the cache like C.

Active tokens of different streams are packed into one sequence; attention stays within
each stream.

C and D pool over every cached token. SigLIP's MAP head is one fixed probe attending over the
tokens, so its per-token work folds (:func:`pool_cache`): the logits of head ``h`` are
``x_i . (W_k,h^T q_h)`` (the key bias adds a per-head constant, which softmax cancels) and
its output is ``W_v,h (sum_i p_hi x_i) + b_v,h``. The key and value projections of the
cached tokens are never formed: the head over N tokens costs O(N D H) instead of O(N D^2),
the same result up to rounding, with no extra state.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroflow.archs.base import Architecture, ArchOutput, StreamState
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import RetinalGate
from neuroflow.core.packing import Packing, make_packing, pack, to_layout
from neuroflow.models.tower import Embedded, VisionTower


def _foldable_head(tower: VisionTower) -> nn.Module | None:
    """SigLIP's MAP head when its attention is a plain single-probe ``nn.MultiheadAttention``."""
    head = getattr(tower.hf, "head", None)
    attn = getattr(head, "attention", None)
    if tower.family != "siglip" or not isinstance(attn, nn.MultiheadAttention):
        return None
    plain = attn._qkv_same_embed_dim and attn.in_proj_bias is not None and attn.batch_first
    if not plain or attn.bias_k is not None or attn.add_zero_attn or head.probe.shape[1] != 1:
        return None
    return head


def pool_cache(tower: VisionTower, hidden: Tensor) -> Tensor:
    """Pool ``[B, P + N, D]`` cached tokens; equals ``tower.pool`` (folded MAP head, see above)."""
    head = _foldable_head(tower)
    if head is None:
        return tower.pool(hidden)
    attn = head.attention
    x = tower.hf.post_layernorm(hidden)
    d, heads = x.shape[-1], attn.num_heads
    w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
    b_q, _, b_v = attn.in_proj_bias.chunk(3)
    q = F.linear(head.probe.reshape(1, d), w_q, b_q).view(heads, -1) * (d // heads) ** -0.5
    u = torch.einsum("hc,hcd->hd", q, w_k.view(heads, -1, d))  # [H, D]
    p = torch.softmax(torch.matmul(x, u.t()), dim=1)  # [B, n, H]
    mixed = torch.matmul(p.transpose(1, 2), x)  # [B, H, D]
    v = torch.einsum("bhd,hcd->bhc", mixed, w_v.view(heads, -1, d)) + b_v.view(heads, -1)
    out = attn.out_proj(v.reshape(-1, d))
    return out + head.mlp(head.layernorm(out))


class ArchB(Architecture):
    """Inactive tokens are removed before the encoder; the head sees active tokens only."""

    name = "B"

    def sparse_encode(self, tokens: Tensor, keep: Tensor, start: int = 0) -> tuple[Tensor, Packing]:
        """Pack the kept tokens of ``tokens`` and run blocks ``start:`` on them.

        Returns:
            The final-layer outputs ``[T, D]`` of the packed tokens and their packing.
        """
        packing = make_packing(self.full_keep(keep))
        x = to_layout(pack(tokens, packing), packing)
        x = self.tower.encode(x, start=start, packing=None if packing.uniform else packing)
        return x.reshape(-1, x.shape[-1]), packing

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        hidden, packing = self.sparse_encode(emb.tokens, gated.keep_mask)
        return self.output(self.tower.pool_packed(hidden, packing), gated, emb)


class ArchC(ArchB):
    """B plus a cortical cache of final-layer outputs; the head pools over all N tokens.

    Args:
        tower: The vision tower.
        gate: The retinal gate (must keep the first frame dense: it fills the cache).
        cache: Cache write policy.
    """

    name = "C"

    def __init__(self, tower: VisionTower, gate: RetinalGate, cache: CorticalCache | None = None):
        if not gate.config.dense_first_frame:
            raise ValueError(f"Arch {self.name} needs dense_first_frame=True to fill its cache")
        super().__init__(tower, gate)
        self.cache = cache if cache is not None else CorticalCache()

    def cached_pool(
        self, hidden: Tensor, packing: Packing, fresh: Tensor, emb: Embedded, state: StreamState
    ) -> Tensor:
        """Write the active outputs into the stream cache and pool over every slot."""
        buffer = state.buffer("cache", tuple(emb.tokens.shape), hidden)
        self.cache.write(buffer, hidden, packing, fresh)
        return pool_cache(self.tower, buffer)

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        hidden, packing = self.sparse_encode(emb.tokens, gated.keep_mask)
        pooled = self.cached_pool(hidden, packing, gated.first_frame, emb, state)
        return self.output(pooled, gated, emb)


class ArchD(ArchC):
    """The first ``dense_layers`` blocks run on every token, the rest sparse, plus the cache.

    Args:
        tower: The vision tower.
        gate: The retinal gate.
        cache: Cache write policy.
        dense_layers: Number of leading blocks run densely (0 gives Arch C); None runs
            half of the blocks densely.
    """

    name = "D"

    def __init__(
        self,
        tower: VisionTower,
        gate: RetinalGate,
        cache: CorticalCache | None = None,
        dense_layers: int | None = None,
    ):
        super().__init__(tower, gate, cache)
        if dense_layers is None:
            dense_layers = len(tower.blocks) // 2
        if not 0 <= dense_layers <= len(tower.blocks):
            raise ValueError(
                f"dense_layers must lie in [0, {len(tower.blocks)}], got {dense_layers}"
            )
        self.dense_layers = int(dense_layers)

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        early = self.tower.encode(emb.tokens, stop=self.dense_layers)
        hidden, packing = self.sparse_encode(early, gated.keep_mask, start=self.dense_layers)
        pooled = self.cached_pool(hidden, packing, gated.first_frame, emb, state)
        return self.output(pooled, gated, emb)
