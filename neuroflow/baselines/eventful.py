"""Eventful-Transformers-style per-block token reuse (after Dutson et al., ICCV 2023).

Written from the paper's idea, not from its code. Each stream keeps, per block, the values
it last used for every token and recomputes a token's linear work only where its input
changed. A pre-norm block ``y = h + mlp(ln2(h)), h = x + out(attn(ln1(x)))`` runs as:

1. **QKV gate** on the block input ``x``: selected tokens recompute ``ln1`` and their
   queries, keys and values into the block's q/k/v cache; the gate's output is ``x`` for
   selected tokens and the reference (last used ``x``) for the others, and the residual
   adds onto that gated ``x``, so every token's path is consistent with its cache.
2. **Attention core** for all queries over all keys of the q/k/v cache: exact for the gated
   values. Eventful updates the ``QK^T`` and ``AV`` products incrementally (only rows and
   columns of changed tokens); here they are dense, and the cost model counts them dense.
3. **Output gate** on the attention output ``a``: selected tokens recompute the output
   projection, the others reuse their cached projection ``o``.
4. **MLP gate** on ``h = x_gated + o``: selected tokens recompute the MLP, the others reuse
   their cached MLP output ``m``; the block outputs ``y = h + m``.

Gates compare by relative L2 error (why: :mod:`neuroflow.baselines.eventful_state`). Two
policies: ``"threshold"`` recomputes tokens whose error exceeds ``threshold`` (per-stream
counts; with ``threshold=0`` every changed value is recomputed and unchanged ones equal
their reference, so the result equals dense); ``"top_r"`` recomputes the ``r = ceil(k N)``
patches of largest error at every gate (``k = keep_fraction``). Class tokens are always
recomputed. A stream's first frame after a reset (or a change of grid) runs dense and fills
every reference and cache. Linear work runs on the selected rows only.

Inference only: the caches carry values from frame to frame, which no gradient follows, so
a frame runs under ``torch.no_grad``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import torch
from torch import Tensor

from neuroflow.archs.base import Architecture, ArchOutput
from neuroflow.archs.registry import register_method
from neuroflow.baselines.eventful_state import (
    EventfulState,
    TokenRows,
    relative_error,
    select_tokens,
    top_count,
)
from neuroflow.core.attention import segment_attention
from neuroflow.models.blocks import Block
from neuroflow.models.tower import Embedded, VisionTower

Policy = Literal["threshold", "top_r"]
GATES = ("qkv", "out", "mlp")  # the gates of every block, in order


@dataclass
class EventfulPass:
    """One frame of every stream through the gated encoder.

    Attributes:
        hidden: ``[B, T, D]`` final-layer tokens (class tokens first).
        selected: ``[B, L, 3, T]`` bool, the tokens each gate (:data:`GATES`) recomputed.
        surprise: ``[B, N]`` the first QKV gate's relative error of the patches (zeros on
            a stream's first frame).
    """

    hidden: Tensor
    selected: Tensor
    surprise: Tensor


@register_method
class Eventful(Architecture):
    """Per-block token reuse with gates before QKV, the output projection and the MLP.

    ``keep_fraction`` reported per stream is the mean, over all ``3 L`` gates, of the share
    of the ``N`` patches each recomputed (class tokens excluded); ``keep_mask`` holds the
    patches recomputed at the first block's QKV gate. The head pools every token.

    Args:
        tower: The vision tower.
        policy: ``"top_r"`` (fixed count per gate) or ``"threshold"`` (error above it).
        threshold: Relative-L2 threshold of the threshold policy (``>= 0``); ignored by
            top-r. The threshold policy has no direct control of the keep fraction: to
            match a keep fraction with it, search ``threshold`` (keep fraction falls as it
            grows); ``keep_settings`` uses top-r, which hits it directly.
        keep_fraction: Top-r policy: share ``k`` of patches every gate recomputes,
            ``r = ceil(k N)``; ignored by the threshold policy. 1.0 (the default) is dense.
    """

    name = "eventful"
    uses_gate = False
    pools = "all"
    calibrated: ClassVar[str | None] = None

    def __init__(
        self,
        tower: VisionTower,
        policy: Policy = "top_r",
        threshold: float = 0.0,
        keep_fraction: float = 1.0,
    ) -> None:
        if policy not in ("threshold", "top_r"):
            raise ValueError(f"policy must be 'threshold' or 'top_r', got {policy!r}")
        if not threshold >= 0.0:  # also rejects NaN
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        if not 0.0 < keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must lie in (0, 1], got {keep_fraction}")
        super().__init__(tower)
        self.policy = policy
        self.threshold = float(threshold)
        self.keep_fraction = float(keep_fraction)

    @classmethod
    def keep_settings(cls, keep_fraction: float) -> dict[str, Any]:
        """Top-r at ``keep_fraction`` of the patches per gate (reported exactly that)."""
        super().keep_settings(keep_fraction)  # range check
        return {"policy": "top_r", "keep_fraction": float(keep_fraction)}

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        """Linear work (QKV, output projection, MLP) on ``n`` tokens per gate, attention
        core dense over all ``P + N`` tokens. Exact for top-r (every gate recomputes the same
        count); under the threshold policy gate counts differ and the reported keep fraction
        weights gates equally, not by their FLOPs. The gates' error norms are element-wise
        and, like the norms and activations of every method, not counted."""
        dense = bd.tokens
        return bd.block_cost(n, bd.layers) + bd.attention * (dense * dense - n * n)

    def new_state(self, batch: int = 1) -> EventfulState:
        """Fresh references and caches for ``batch`` independent streams."""
        return EventfulState(batch)

    def step(self, emb: Embedded, state: EventfulState) -> ArchOutput:  # type: ignore[override]
        run = self.encode(emb, state)
        prefix = self.tower.num_prefix_tokens
        patches = run.selected[..., prefix:]
        keep_fraction = patches.float().mean(dim=(1, 2, 3))
        keep_mask = patches[:, 0, 0]
        embedding = self.tower.fast_pool(run.hidden)
        return ArchOutput(embedding, keep_mask, run.surprise, keep_fraction, emb.stretch)

    @torch.no_grad()
    def encode(self, emb: Embedded, state: EventfulState) -> EventfulPass:
        """Run every block with its gates on one frame; updates ``state`` in place."""
        state.follow_grid(emb.grid)
        x = emb.tokens
        state.prepare(len(self.tower.blocks), x.shape[1], x)
        fresh = state.fresh.to(x.device)
        selected, surprise = [], None
        for layer, block in enumerate(self.tower.blocks):
            x, chosen, error = self._block(cast(Block, block), layer, x, state, fresh)
            selected.append(chosen)
            if surprise is None:
                surprise = error[:, self.tower.num_prefix_tokens :] * ~fresh[:, None]
        state.fresh = torch.zeros_like(state.fresh)
        assert surprise is not None
        return EventfulPass(x, torch.stack(selected, dim=1), surprise)

    def _select(self, value: Tensor, ref: Tensor, fresh: Tensor) -> tuple[Tensor, Tensor]:
        """One gate's selection ``[B, T]`` and the error it was made on."""
        error = relative_error(value, ref)
        prefix = self.tower.num_prefix_tokens
        n = value.shape[1] - prefix
        top = top_count(self.keep_fraction, n) if self.policy == "top_r" else None
        chosen = select_tokens(error, fresh, prefix, threshold=self.threshold, top=top)
        return chosen, error

    def _block(
        self, block: Block, layer: int, x: Tensor, state: EventfulState, fresh: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One gated block: its output ``[B, T, D]``, selections ``[B, 3, T]``, QKV error."""
        x_ref, qkv, a_ref, o, h_ref, m = state.layer(layer)
        # 1. QKV gate: the gated input is the reference once the selected rows are written.
        sel_x, error = self._select(x, x_ref, fresh)
        _recompute(TokenRows(sel_x), x, x_ref, qkv, lambda rows: _qkv(block, rows))
        # 2. Attention core, dense over the cached queries, keys and values.
        a = _attention(block, qkv)
        # 3. Output-projection gate.
        sel_a, _ = self._select(a, a_ref, fresh)
        _recompute(TokenRows(sel_a), a, a_ref, o, lambda rows: _out_proj(block, rows))
        h = x_ref + o
        # 4. MLP gate.
        sel_h, _ = self._select(h, h_ref, fresh)
        _recompute(TokenRows(sel_h), h, h_ref, m, block.mlp_delta)
        return h + m, torch.stack([sel_x, sel_a, sel_h], dim=1), error


def _recompute(
    rows: TokenRows, value: Tensor, ref: Tensor, cache: Tensor, op: Callable[[Tensor], Tensor]
) -> None:
    """Write the selected rows of ``value`` into ``ref`` and ``op`` of them into ``cache``."""
    if rows.empty:
        return  # nothing changed enough: every reference and cache stays
    selected = rows.take(value)
    rows.put(ref, selected)
    rows.put(cache, op(selected))


def _qkv(block: Block, x: Tensor) -> Tensor:
    """``[B, n, 3 D]`` queries, keys and values (``[q | k | v]``) of ``ln1(x)``."""
    q, k, v, _ = block.qkv(block.ln1(x))  # [B, H, n, d] each
    return torch.cat([t.transpose(1, 2).flatten(2) for t in (q, k, v)], dim=-1)


def _attention(block: Block, qkv: Tensor) -> Tensor:
    """``[B, T, D]`` attention output (before the output projection) of a q/k/v cache."""
    b, t, width = qkv.shape
    heads = qkv.view(b, t, 3, block.num_heads, block.head_dim).permute(2, 0, 3, 1, 4)
    out = segment_attention(heads[0], heads[1], heads[2], None, block.scale)
    return out.transpose(1, 2).reshape(b, t, width // 3)


def _out_proj(block: Block, a: Tensor) -> Tensor:
    """The block's output projection of ``a`` (packed CPU kernel where it applies)."""
    kernels = block.kernels(a)
    return (block.out_proj if kernels is None else kernels.out)(a)
