"""Token Merging's operations (Bolya et al., ICLR 2023), written from the paper.

* :func:`bipartite_soft_matching`: split the mergeable tokens alternately into sets A (even
  positions) and B (odd positions), link every A token to its most similar B token (cosine of
  the metric), and merge the ``r`` A tokens with the most similar links into their B token.
  It returns a *mapping* (the new index of every token) so that merging, size tracking and
  unmerging are all one scatter or gather.
* :func:`merge_step`: one merge of a :class:`Tokens` batch: a size-weighted average (each
  token's ``size`` = the original tokens it stands for; the paper's weighted average) or a
  plain mean of each merged group; prefix (class) tokens are never matched, which is what
  giving them ``-inf`` similarity does, and stay first.
* :func:`unmerge`: copy every merged token back to all its source tokens.
* :func:`tome_encode`: a tower's blocks with merging, between attention and MLP on the
  attention keys (the paper) or before each block on its input tokens; proportional
  attention (:func:`tome_attention`).
* :func:`schedule_r`, :func:`layer_counts`, :func:`resolve_r`: the per-layer ``r`` and the
  patch tokens each sub-layer processes, and the ``r`` that reaches a token-layer share.

Every operation works row by row, so a stream's merges never depend on the other streams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from neuroflow.models.blocks import Block
    from neuroflow.models.tower import VisionTower

Schedule = Literal["constant", "decreasing"]
SCHEDULES = ("constant", "decreasing")


@dataclass
class Tokens:
    """A batch of (possibly merged) tokens.

    Attributes:
        x: ``[B, P + n, D]`` tokens, prefix (class) tokens first.
        sizes: ``[B, P + n]`` float32 original tokens each stands for; None while nothing
            has been merged (every size is 1).
        where: ``[B, n0]`` index into ``x`` of the token holding each original patch token.
    """

    x: Tensor
    sizes: Tensor | None
    where: Tensor


def start_tokens(x: Tensor, prefix: int) -> Tokens:
    """Unmerged :class:`Tokens` of ``x`` ``[B, P + n, D]``."""
    b, n = x.shape[0], x.shape[1] - prefix
    where = torch.arange(prefix, prefix + n, device=x.device).expand(b, n)
    return Tokens(x, None, where)


def bipartite_soft_matching(metric: Tensor, r: int) -> tuple[Tensor, int]:
    """Match the mergeable tokens of ``metric`` ``[B, m, C]`` and merge ``r`` of them.

    Args:
        metric: Features whose cosine similarity decides the matches.
        r: Tokens to remove; capped at ``m // 2`` (set B can absorb no more).

    Returns:
        ``mapping`` ``[B, m]`` (new index of every token: the unmerged A tokens first in
        their order, then the B tokens in theirs) and the new token count ``m - r``.
    """
    b, m, _ = metric.shape
    r = min(int(r), m // 2)
    if r <= 0:
        return torch.arange(m, device=metric.device).expand(b, m), m
    unit = F.normalize(metric.float(), dim=-1)
    a, bset = unit[:, ::2], unit[:, 1::2]
    na, nb = a.shape[1], bset.shape[1]
    best, dst = (a @ bset.transpose(1, 2)).max(dim=-1)  # [B, na]: each A token's best B
    # Stable: ties merge in A order, the same in any batch.
    order = best.argsort(dim=-1, descending=True, stable=True)
    merged, kept = order[:, :r], order[:, r:].sort(dim=-1).values
    new_a = torch.empty(b, na, dtype=torch.long, device=metric.device)
    rank = torch.arange(na - r, device=metric.device).expand(b, -1)
    new_a.scatter_(1, kept, rank)
    new_a.scatter_(1, merged, (na - r) + dst.gather(1, merged))
    mapping = torch.empty(b, m, dtype=torch.long, device=metric.device)
    mapping[:, ::2] = new_a
    mapping[:, 1::2] = (na - r) + torch.arange(nb, device=metric.device)
    return mapping, m - r


def merge_tokens(
    x: Tensor, mapping: Tensor, length: int, weights: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Average the tokens of ``x`` ``[B, m, D]`` that ``mapping`` sends to the same index.

    Args:
        x: Tokens.
        mapping: ``[B, m]`` new index of every token, in ``[0, length)``.
        length: New token count.
        weights: ``[B, m]`` weight of every token (its size); None: equal weights.

    Returns:
        The merged tokens ``[B, length, D]`` and the summed weights ``[B, length]``.
    """
    b, m, d = x.shape
    w = torch.ones(b, m, device=x.device) if weights is None else weights
    total = w.float().new_zeros(b, length).scatter_add_(1, mapping, w.float())
    # Each token's share of its group (float32, at most 1): summing x * share gives the
    # average directly, and never overflows half precision as x * size can at large sizes.
    share = (w.float() / total.gather(1, mapping)).to(x.dtype)
    index = mapping.unsqueeze(-1).expand(-1, -1, d)
    merged = x.new_zeros(b, length, d).scatter_add_(1, index, x * share.unsqueeze(-1))
    return merged, total


def merge_step(
    tokens: Tokens, metric: Tensor, r: int, prefix: int, weighted: bool = True
) -> Tokens:
    """Merge ``r`` patch tokens of ``tokens`` by bipartite soft matching on ``metric``.

    Args:
        tokens: The batch.
        metric: ``[B, P + n, C]`` matching features (its prefix rows are ignored).
        r: Tokens to remove (capped at half the mergeable tokens).
        prefix: Leading prefix tokens, never merged.
        weighted: Size-weighted average (ToMe); False: plain mean of each merged group.
    """
    mapping, length = bipartite_soft_matching(metric[:, prefix:], r)
    if length == tokens.x.shape[1] - prefix:
        return tokens
    x_pre, x = tokens.x[:, :prefix], tokens.x[:, prefix:]
    b = x.shape[0]
    sizes = tokens.sizes
    if sizes is None:
        sizes = torch.ones(b, prefix + x.shape[1], device=x.device)
    merged, summed = merge_tokens(x, mapping, length, sizes[:, prefix:] if weighted else None)
    if weighted:
        new_sizes = summed
    else:
        new_sizes = sizes.new_zeros(b, length).scatter_add_(1, mapping, sizes[:, prefix:])
    # Index of every current token in the merged batch; composing it with ``where`` keeps
    # track of which token holds each original patch (for unmerge).
    keep_prefix = torch.arange(prefix, device=x.device).expand(b, -1)
    new_index = torch.cat([keep_prefix, mapping + prefix], dim=1)
    return Tokens(
        torch.cat([x_pre, merged], dim=1),
        torch.cat([sizes[:, :prefix], new_sizes], dim=1),
        new_index.gather(1, tokens.where),
    )


def unmerge(tokens: Tokens, prefix: int) -> Tensor:
    """``[B, P + n0, D]``: every original token gets the output of the token holding it."""
    d = tokens.x.shape[-1]
    copies = tokens.x.gather(1, tokens.where.unsqueeze(-1).expand(-1, -1, d))
    return torch.cat([tokens.x[:, :prefix], copies], dim=1)


def tome_attention(block: Block, x: Tensor, sizes: Tensor | None) -> tuple[Tensor, Tensor]:
    """A block's attention branch with proportional attention, and its keys.

    Args:
        block: The encoder block.
        x: ``[B, n, D]`` tokens.
        sizes: ``[B, n]`` token sizes: ``log size`` is added to every query's logits
            (a float mask, so SDPA keeps its fused kernels); None: plain attention.

    Returns:
        The branch ``attn(ln1(x))`` ``[B, n, D]`` and the keys ``[B, H, n, d]``.
    """
    q, k, v, kernels = block.qkv(block.ln1(x))  # the same packed CPU path as the block's own
    mask = None if sizes is None else sizes.log().to(q.dtype)[:, None, None, :]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=block.scale)
    out = out.transpose(1, 2).reshape(x.shape)
    return (block.out_proj if kernels is None else kernels.out)(out), k


def tome_encode(
    tower: VisionTower,
    x: Tensor,
    rs: list[int],
    *,
    merge_before: bool = False,
    proportional: bool = True,
    weighted: bool = True,
) -> tuple[Tokens, list[tuple[int, int]]]:
    """Run every block of ``tower`` on ``x`` ``[B, P + n, D]`` with ToMe merging.

    Args:
        tower: The vision tower.
        x: Encoder input, prefix tokens first.
        rs: Tokens to merge in each block.
        merge_before: Merge before each block on its input tokens (``tome_paper``) instead of
            between attention and MLP on the attention keys (ToMe).
        proportional: Proportional attention (``+ log size``).
        weighted: Size-weighted merging (else a plain mean of each merged group).

    Returns:
        The final tokens (with sizes and sources) and, per block, the patch tokens its
        attention and its MLP processed.
    """
    prefix = tower.num_prefix_tokens
    tokens = start_tokens(x, prefix)
    counts = []
    for block, r in zip(tower.blocks, rs, strict=True):
        if merge_before:
            tokens = merge_step(tokens, tokens.x, r, prefix, weighted)
        attended = tokens.x.shape[1] - prefix
        delta, keys = tome_attention(block, tokens.x, tokens.sizes if proportional else None)
        tokens.x = tokens.x + delta
        if not merge_before:
            tokens = merge_step(tokens, keys.mean(dim=1), r, prefix, weighted)
        tokens.x = tokens.x + block.mlp_delta(tokens.x)
        counts.append((attended, tokens.x.shape[1] - prefix))
    return tokens, counts


def schedule_r(r: int, layers: int, schedule: Schedule = "constant") -> list[int]:
    """Tokens each block is asked to merge (before the cap of :func:`layer_counts`).

    ``"constant"``: ``r`` in every block. ``"decreasing"`` (the paper's decreasing schedule):
    linearly from ``2r`` in the first block to 0 in the last, ``floor(2r (L-1-l)/(L-1) + 1/2)``
    for block ``l`` of ``L`` (about ``r L`` in all, like constant); a single block gets ``r``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if int(r) != r or r < 0:
        raise ValueError(f"r must be a non-negative integer, got {r}")
    if schedule == "constant" or layers == 1:
        return [int(r)] * layers
    return [math.floor(2 * r * (layers - 1 - i) / (layers - 1) + 0.5) for i in range(layers)]


def layer_counts(n: int, rs: list[int], merge_before: bool = False) -> list[tuple[int, int]]:
    """Patch tokens the attention and the MLP of every block process.

    Args:
        n: Patch tokens entering the encoder.
        rs: Requested ``r`` per block; each is capped at half the block's mergeable tokens.
        merge_before: Merge before the block (attention sees merged tokens) instead of
            between its attention and MLP (the paper's ToMe).
    """
    counts = []
    for r in rs:
        merged = n - min(r, n // 2)
        counts.append((merged, merged) if merge_before else (n, merged))
        n = merged
    return counts


def token_layer_share(n: int, rs: list[int], merge_before: bool = False) -> float:
    """Mean over the ``2 L`` sub-layers of the patch tokens they process, over ``n``."""
    if n == 0:
        return 0.0
    counts = layer_counts(n, rs, merge_before)
    return sum(a + m for a, m in counts) / (2 * len(counts) * n)


def lowest_share(n: int, layers: int, schedule: Schedule, merge_before: bool = False) -> float:
    """The smallest :func:`token_layer_share` any ``r`` reaches (every cap binding)."""
    return token_layer_share(n, schedule_r(_r_max(n, layers), layers, schedule), merge_before)


@lru_cache(maxsize=4096)
def resolve_r(
    n: int, layers: int, share: float, schedule: Schedule = "constant", merge_before: bool = False
) -> int:
    """The ``r`` whose :func:`token_layer_share` is closest to ``share`` (the smaller on ties).

    The share is non-increasing in ``r`` (a larger ``r`` leaves no more tokens in any
    block, caps included), so a bisection finds it.
    """

    def share_of(r: int) -> float:
        return token_layer_share(n, schedule_r(r, layers, schedule), merge_before)

    lo, hi = 0, _r_max(n, layers)
    while lo < hi:  # smallest r whose share is at most the target
        mid = (lo + hi) // 2
        if share_of(mid) <= share:
            hi = mid
        else:
            lo = mid + 1
    if lo > 0 and abs(share_of(lo - 1) - share) <= abs(share_of(lo) - share):
        return lo - 1
    return lo


def _r_max(n: int, layers: int) -> int:
    # Every block but a decreasing schedule's last merges its cap m // 2 <= n // 2 once
    # 2 r / (L - 1) >= n: no larger r changes any count.
    return max(1, n * max(1, layers - 1))
