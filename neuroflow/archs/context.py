"""Architecture E: C plus a context cache of every token's keys and values at every block.

Arch C runs the encoder on the active tokens only, so they attend only to each other and
lose the static scene around them ("active shift"). E keeps, per stream, the keys and values
every token had at every block on the last frame it was recomputed (class tokens are always
active). At each block the active tokens compute q, k, v, write k, v into their slots of the
stream's cache, and attend over all ``P + N`` slots: fresh keys and values where a token is
active, cached ones elsewhere. Projections and MLP run on the active tokens only; their
final-layer outputs go to the cortical cache and the head pools over every slot, as in C. A
stream's first frame after a reset is dense and fills the cache.

Memory: ``2 L (P + N) D`` values per stream on top of C's state. SigLIP-B/16 at 224 px
(``L = 12``, ``P + N = 196``, ``D = 768``): 3,612,672 values, 14,450,688 bytes (14.5 MB,
13.8 MiB) in float32 (:func:`context_bytes`). Cost per frame: linear layers and MLP on the
``n`` active tokens, attention scores of ``n`` queries against ``P + N`` keys.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroflow.archs.base import ArchOutput, StreamState
from neuroflow.archs.pruned import ArchC
from neuroflow.archs.registry import register_method
from neuroflow.core.packing import Packing, make_packing, pack, to_layout
from neuroflow.core.protocols import Gate
from neuroflow.models.blocks import Block
from neuroflow.models.tower import Embedded, VisionTower


class ContextState(StreamState):
    """:class:`~neuroflow.archs.base.StreamState` plus every token's keys and values.

    Attributes:
        kv: ``[L, 2, B, P + N, D]`` keys (index 0) and values (1) of every block, the heads
            side by side in ``D`` (``[..., P + N, H, d]`` in memory): the layout of the
            blocks' own projections, so the active rows are written with one
            ``index_copy_`` and read as ``[B, H, P + N, d]`` views without a copy. None
            before the first frame (a lazy row when stacking; batch axis 2).
    """

    ROWS: ClassVar[dict[str, int | str]] = {**StreamState.ROWS, "kv": 2}
    LAZY_ROWS: ClassVar[tuple[str, ...]] = (*StreamState.LAZY_ROWS, "kv")

    def __init__(self, batch: int, gate: Gate | None) -> None:
        super().__init__(batch, gate)
        self.kv: Tensor | None = None

    def follow_grid(self, grid: tuple[int, int]) -> None:
        """As the base class; a change of grid also drops the keys and values."""
        changed = self.grid is not None and (int(grid[0]), int(grid[1])) != self.grid
        super().follow_grid(grid)
        if changed:
            self.kv = None

    def nbytes(self) -> int:
        """Bytes of per-stream state, the key/value cache included."""
        own = 0 if self.kv is None else self.kv.numel() * self.kv.element_size()
        return super().nbytes() + own


def context_bytes(tower: VisionTower, height: int, width: int, batch: int = 1) -> int:
    """Bytes of E's key/value cache for ``batch`` streams of ``height x width`` frames.

    ``2 L (P + N) D`` values per stream in the tower's dtype (the cortical cache and the
    gate's state come on top; :meth:`ContextState.nbytes` counts everything).
    """
    tokens = tower.num_prefix_tokens + tower.num_patches(height, width)
    proj = tower.blocks[0].k_proj
    return 2 * len(tower.blocks) * tokens * proj.out_features * proj.weight.element_size() * batch


def write_slots(slots: Tensor, fresh: Tensor, packing: Packing) -> Tensor:
    """Write the active tokens' keys (or values) into their slots; return the whole cache.

    Args:
        slots: ``[B, P + N, D]`` one block's keys or values of every stream (updated in place).
        fresh: ``[B, H, n, d]`` (uniform packing) or ``[1, H, T, d]`` (ragged) of the active
            tokens, in packing order.
        packing: Where the active tokens sit.

    Returns:
        ``[B, H, P + N, d]`` view of ``slots``.
    """
    b, s, width = slots.shape
    heads = fresh.shape[1]
    rows = fresh.transpose(1, 2).reshape(-1, width)
    slots.view(-1, width).index_copy_(0, packing.flat_index, rows.to(slots.dtype))
    return slots.view(b, s, heads, width // heads).transpose(1, 2)


def context_attention(
    q: Tensor, keys: Tensor, values: Tensor, packing: Packing, scale: float
) -> Tensor:
    """Each stream's active queries attend over all of that stream's cached slots.

    A uniform packing is one batched SDPA call (``[B, H, n, d]`` against ``[B, H, P + N, d]``).
    A ragged pack makes one call per stream: the keys never mix streams, so no mask is
    needed; padding the queries to the longest stream would give one call too, but it
    computes ``max(n) (P + N)`` scores for every stream, work that carries no result and that
    the FLOP counter would count against the cost model. Per-stream calls do exactly each
    stream's work for ``B`` small calls per block; a stream with no active token is skipped.

    Args:
        q: ``[B, H, n, d]`` (uniform) or ``[1, H, T, d]`` (ragged) queries in packing order.
        keys: ``[B, H, P + N, d]`` every stream's keys.
        values: ``[B, H, P + N, d]`` every stream's values.
        packing: The packing of the queries.
        scale: Softmax scale.

    Returns:
        Attention output in the layout of ``q``.
    """
    if packing.uniform:
        return F.scaled_dot_product_attention(q, keys, values, scale=scale)
    outs = [
        F.scaled_dot_product_attention(part, keys[i : i + 1], values[i : i + 1], scale=scale)
        for i, part in enumerate(q.split(packing.lengths, dim=2))
        if part.shape[2]
    ]
    return torch.cat(outs, dim=2)


def context_block(block: Block, x: Tensor, kv: Tensor, packing: Packing) -> Tensor:
    """One block on the active tokens ``x``, their attention over the stream's cache.

    Args:
        block: The encoder block.
        x: ``[B, n, D]`` or ``[1, T, D]`` active tokens (see :func:`to_layout`).
        kv: ``[2, B, P + N, D]`` this block's keys and values (updated in place).
        packing: Where the active tokens sit.
    """
    q, k, v, kernels = block.qkv(block.ln1(x))
    keys, values = write_slots(kv[0], k, packing), write_slots(kv[1], v, packing)
    out = context_attention(q, keys, values, packing, block.scale).transpose(1, 2)
    x = x + (block.out_proj if kernels is None else kernels.out)(out.reshape(x.shape))
    return x + block.mlp_delta(x)


@register_method
class ArchE(ArchC):
    """C whose active tokens attend over every token's cached keys and values (module doc).

    Takes C's arguments and settings (:class:`~neuroflow.archs.pruned.ArchC`): the tower,
    the retinal gate (it must keep the first frame dense: that fills both caches) and the
    cortical-cache policy of the final-layer outputs.
    """

    name = "E"

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        # bd.attention is the coefficient of queries x keys (n * n when both are the n kept
        # tokens); here n queries score all P + N keys.
        return bd.attn_linear * n + bd.mlp * n + bd.attention * n * bd.tokens

    def new_state(self, batch: int = 1) -> ContextState:
        return ContextState(batch, self.gate)

    def context_encode(
        self, tokens: Tensor, keep: Tensor, state: ContextState
    ) -> tuple[Tensor, Packing]:
        """Run every block on the kept tokens of ``tokens`` against the streams' K/V cache.

        Returns:
            The final-layer outputs ``[T, D]`` of the packed tokens and their packing.
        """
        packing = make_packing(self.full_keep(keep))
        x = to_layout(pack(tokens, packing), packing)
        b, s, width = tokens.shape
        if x.numel() == 0:  # no stream kept a token: nothing to compute or cache
            return x.reshape(0, width), packing
        shape = (len(self.tower.blocks), 2, b, s, self.tower.blocks[0].k_proj.out_features)
        kv = state.buffer("kv", shape, x)
        for block, layer_kv in zip(self.tower.blocks, kv, strict=True):
            x = context_block(block, x, layer_kv, packing)
        return x.reshape(-1, width), packing

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        if not isinstance(state, ContextState):
            raise ValueError(
                f"Arch E needs the state of its own new_state(), got {type(state).__name__}"
            )
        gated = self.gate_step(emb, state)
        hidden, packing = self.context_encode(emb.tokens, gated.keep_mask, state)
        pooled = self.cached_pool(hidden, packing, gated, emb, state)
        return self.output(pooled, gated, emb)
