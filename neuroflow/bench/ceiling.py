"""Analytic FLOP ceiling ``S(k)``: the best speedup a method can reach at keep fraction ``k``.

With ``n = P + k N`` tokens reaching the encoder (class tokens always kept) the ceiling is the
dense FLOPs over the method's FLOPs. For Arch B this is the reference formula

``S(k) = 1 / (f_pe + f_head' + f_lin k + f_att k^2)``

(``../shared/reference/peers-and-limits.md`` §4), with the head's token-dependent part
counted inside ``f_lin``. Each method has its own cost model:

* ``B`` (and random keep, which prunes the same way): everything on ``n`` tokens.
* ``C``: like B, but the pooling head runs over all ``P + N`` cached tokens.
* ``D``: the first ``dense_layers`` blocks on every token, the rest on ``n``; head as C.
* ``A``: attention (projections and matmuls) on every token, MLP on ``n``; head over all.

The dense reference and the architectures pool with ``tower.fast_pool`` (SigLIP's MAP head
folded, so a pooled token costs O(D H) instead of the K/V projections' O(D^2); this is the
"cached head K/V" case of the reference table, where C's ceiling equals B's). Methods that
call the HF model's own head (the plain loop, ``hf_dense``) pay its full cost:
``hf_head=True``, i.e. ``f_head' = f_head``.
"""

from __future__ import annotations

from neuroflow.bench.flops import FlopBreakdown

CEILING_KINDS = ("dense", "A", "B", "C", "D")


def method_flops(
    bd: FlopBreakdown, k: float, kind: str, *, dense_layers: int = 0, hf_head: bool = False
) -> float:
    """Model FLOPs of one frame of a method of ``kind`` at keep fraction ``k``.

    Args:
        bd: Dense cost breakdown of the tower at this resolution.
        k: Fraction of the ``N`` patch tokens kept, in [0, 1].
        kind: ``"dense"``, ``"A"``, ``"B"``, ``"C"`` or ``"D"``.
        dense_layers: Leading dense blocks of Arch D.
        hf_head: The method pools with the HF model's head instead of ``tower.fast_pool``.
    """
    if not 0.0 <= k <= 1.0:
        raise ValueError(f"keep fraction must lie in [0, 1], got {k}")
    if kind not in CEILING_KINDS:
        raise ValueError(f"unknown ceiling kind {kind!r}; choose one of {CEILING_KINDS}")
    full = bd.tokens
    n = bd.num_prefix + k * bd.num_patches
    head = bd.hf_head if hf_head else bd.head
    if kind == "dense":
        return bd.patch_embed + bd.block_cost(full, bd.layers) + head(full)
    if kind == "A":
        share = bd.attn_linear * full + bd.attention * full * full + bd.mlp * n
        return bd.patch_embed + share + head(full)
    dense_part = bd.block_cost(full, dense_layers) if kind == "D" else 0.0
    sparse_layers = bd.layers - (dense_layers if kind == "D" else 0)
    pooled = n if kind == "B" else full
    return bd.patch_embed + dense_part + bd.block_cost(n, sparse_layers) + head(pooled)


def ceiling(
    bd: FlopBreakdown, k: float, kind: str, *, dense_layers: int = 0, hf_head: bool = False
) -> float:
    """``S(k)``: dense FLOPs over the method's FLOPs at keep fraction ``k`` (see module doc)."""
    return bd.dense / method_flops(bd, k, kind, dense_layers=dense_layers, hf_head=hf_head)
