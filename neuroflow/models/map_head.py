"""SigLIP's multi-head attention pooling (MAP) head, folded so tokens are never projected.

The MAP head lets one fixed probe ``q`` attend over the tokens. Folded, the logits of head
``h`` are ``x_i . u_h`` with ``u_h = W_k,h^T q_h`` (the key bias adds a per-head constant that
softmax cancels) and its output is ``W_v,h (sum_i p_hi x_i) + b_v,h``. So the key and value
projections of the tokens are never formed and pooling N tokens costs O(N D H) instead of
O(N D^2). :func:`folded_pool` writes that math once; its linear operations come either from
the plain weights (:class:`MapHeadOps`, differentiable) or from the packed CPU kernels
(:class:`~neuroflow.models.cpu_kernels.MapHeadKernels`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from neuroflow.models.tower import VisionTower

Linear = Callable[[Tensor], Tensor]


class FoldedOps(Protocol):
    """What :func:`folded_pool` needs of a MAP head.

    Attributes:
        u: ``[D, H]`` folded key of each head's probe, ``W_k,h^T q_h`` (scaled).
        out: The attention's output projection.
        mlp: The head's MLP (the residual around it is added by :func:`folded_pool`).
    """

    u: Tensor
    out: Linear
    mlp: Linear

    def values(self, mixed: Tensor) -> Tensor:
        """``[B, H, D] -> [B, H, D / H]``: head ``h``'s value projection of its own mix."""
        ...


class MapHeadOps:
    """:class:`FoldedOps` on a head's own weights (autograd flows through all of them).

    Args:
        head: A head :func:`foldable_map_head` accepted.
    """

    def __init__(self, head: nn.Module) -> None:
        attn = head.attention
        d, heads = attn.embed_dim, attn.num_heads
        _, _, w_v = attn.in_proj_weight.chunk(3)
        _, _, b_v = attn.in_proj_bias.chunk(3)
        self.u = probe_keys(head)
        self.w_v, self.b_v = w_v.view(heads, -1, d), b_v.view(heads, -1)
        self.out: Linear = attn.out_proj
        self.mlp: Linear = head.mlp

    def values(self, mixed: Tensor) -> Tensor:
        """Head ``h``'s block of ``W_v`` on head ``h``'s mix only (H times less than all)."""
        return torch.einsum("bhd,hcd->bhc", mixed, self.w_v) + self.b_v


def foldable_map_head(tower: VisionTower) -> nn.Module | None:
    """SigLIP's MAP head when its attention is a plain single-probe ``nn.MultiheadAttention``."""
    head = getattr(tower.hf, "head", None)
    attn = getattr(head, "attention", None)
    if tower.family != "siglip" or not isinstance(attn, nn.MultiheadAttention):
        return None
    plain = attn._qkv_same_embed_dim and attn.in_proj_bias is not None and attn.batch_first
    if not plain or attn.bias_k is not None or attn.add_zero_attn or head.probe.shape[1] != 1:
        return None
    return head


def probe_keys(head: nn.Module) -> Tensor:
    """``[D, H]``: ``u_h = W_k,h^T q_h`` for the head's probe, softmax scale included."""
    attn = head.attention
    d, heads = attn.embed_dim, attn.num_heads
    w_q, w_k, _ = attn.in_proj_weight.chunk(3)
    b_q, _, _ = attn.in_proj_bias.chunk(3)
    q = F.linear(head.probe.reshape(1, d), w_q, b_q).view(heads, -1) * (d // heads) ** -0.5
    return torch.einsum("hc,hcd->dh", q, w_k.reshape(heads, -1, d))


def folded_pool(
    x: Tensor, ops: FoldedOps, layernorm: nn.Module, bias: Tensor | None = None
) -> Tensor:
    """MAP pooling of normalised tokens ``x`` ``[B, n, D]`` into ``[B, D]`` (module doc).

    Args:
        x: Tokens after the tower's final norm.
        ops: The head's operations (plain weights or packed kernels).
        layernorm: The head's LayerNorm before its MLP.
        bias: ``[B, n, 1]`` added to every head's logits (``log size``: proportional
            attention over merged tokens); None adds nothing.
    """
    logits = torch.matmul(x, ops.u)  # [B, n, H]
    p = torch.softmax(logits if bias is None else logits + bias, dim=1)
    mixed = torch.matmul(p.transpose(1, 2), x)  # [B, H, D]: each head's mix of the tokens
    out = ops.out(ops.values(mixed).reshape(x.shape[0], x.shape[-1]))
    return out + ops.mlp(layernorm(out))
