"""Analytic FLOP ceiling ``S(k)``: the best speedup a method can reach at keep fraction ``k``.

With ``n = P + k N`` tokens reaching the encoder (class tokens always kept) the ceiling is the
dense FLOPs over the method's FLOPs. For a method that prunes before the encoder (Arch B) this
is the standard FLOP model of a pruned ViT,

``S(k) = 1 / (f_pe + f_head' + f_lin k + f_att k^2)``,

where ``f_pe``, ``f_lin``, ``f_att`` are the dense cost shares of the patch embedding, of the
per-token linear layers and of the quadratic attention matmuls, and ``f_head'`` the pooling
head's fixed share (its token-dependent part is counted inside ``f_lin``).

Each method's cost model is declared by the method itself, in the registry
(:meth:`~neuroflow.archs.base.Architecture.frame_flops`): B runs everything on ``n`` tokens; C
pools over all ``P + N`` cached tokens; D runs its first ``dense_layers`` blocks on every
token; A runs attention on every token and the MLP on ``n``. Benchmark methods
(:class:`~neuroflow.bench.methods.BenchMethod`) expose the same model as ``flops(bd, k)``.

The architectures pool with ``tower.fast_pool`` (SigLIP's MAP head folded, so a pooled token
costs O(D H) instead of the K/V projections' O(D^2); then C's ceiling equals B's). Methods
that call the HF model's own head (the plain loop, ``hf_dense``) pay its full cost
(``hf_head=True``).
"""

from __future__ import annotations

from typing import Any

from neuroflow.archs.registry import get_method, method_settings
from neuroflow.bench.flops import FlopBreakdown


def method_flops(
    bd: FlopBreakdown, k: float, method: Any, *, hf_head: bool = False, **settings: Any
) -> float:
    """Model FLOPs of one frame of one stream of ``method`` at keep fraction ``k``.

    Args:
        bd: Dense cost breakdown of the tower at this resolution.
        k: Fraction of the ``N`` patch tokens kept, in [0, 1].
        method: A registered method name (``"B"``, ``"D"``, ...) or an object with
            ``flops(bd, k)`` (an architecture or a benchmark method).
        hf_head: With a name: count the HF model's head instead of ``tower.fast_pool``.
        **settings: With a name: the method's settings (``dense_layers`` for D).

    Raises:
        ValueError: ``k`` outside [0, 1], an unknown method, or a setting it does not take.
    """
    if not 0.0 <= k <= 1.0:
        raise ValueError(f"keep fraction must lie in [0, 1], got {k}")
    if not isinstance(method, str):
        return float(method.flops(bd, k))
    cls = get_method(method)
    unknown = sorted(set(settings) - set(method_settings(cls)))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} does not apply to method {cls.name!r}")
    return cls.frame_flops(bd, k, hf_head=hf_head, **settings)


def ceiling(
    bd: FlopBreakdown, k: float, method: Any, *, hf_head: bool = False, **settings: Any
) -> float:
    """``S(k)``: dense FLOPs over the method's FLOPs at keep fraction ``k`` (see module doc)."""
    return bd.dense / method_flops(bd, k, method, hf_head=hf_head, **settings)
