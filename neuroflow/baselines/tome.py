"""Token Merging (ToMe, Bolya et al., ICLR 2023) as registered methods, written from the paper.

* ``"tome"``: ToMe as in its paper, per frame. In every block the attention runs, then
  bipartite soft matching on the attention keys (averaged over heads) merges ``r`` patch
  tokens into their most similar partners by size-weighted average, then the MLP runs on
  the merged tokens. Sizes are tracked and the attention is proportional (``+ log size`` on
  its logits, an additive SDPA mask ``[B, 1, 1, n]``); the head pools the final tokens with
  their sizes (SigLIP's MAP head proportionally; class-token heads take the class token).
* ``"tome_paper"``: the NeuroFlow paper's variant (its repo calls ToMe's matching on the
  hidden states before every layer): merging *before* each block on the block's input tokens,
  a plain mean of each merged group, no proportional attention, pooling without sizes.
* ``"gate_tome"`` (:mod:`neuroflow.baselines.gate_tome`): ToMe among the retinal gate's
  active tokens, with Arch C's cortical cache.

Prefix (class) tokens are never merged. ``r`` is capped at half the mergeable tokens of a
block. Keep fraction (what ``ArchOutput.keep_fraction`` reports and ``keep_fraction``
settings aim at) is the *token-layer* share: the mean over the ``2 L`` sub-layers (each
block's attention and its MLP) of the patch tokens they process, over the frame's ``N``
patches (class tokens excluded); for ``gate_tome`` that is the gate's share times ToMe's
share of the active tokens.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from neuroflow.archs.base import Architecture, ArchOutput, KeepUnreachable, StreamState
from neuroflow.archs.registry import register_method
from neuroflow.baselines.tome_merge import (
    Schedule,
    layer_counts,
    lowest_share,
    resolve_r,
    schedule_r,
    tome_encode,
)
from neuroflow.models.tower import Embedded, VisionTower

# A target this far below ToMe's lowest keep runs at the lowest (the table reports the keep
# reached); further below, the keep fraction is unreachable.
REACH_TOLERANCE = 0.01


def share_of(counts: list[tuple[int, int]], num_patches: int) -> float:
    """Token-layer keep fraction of per-block ``(attention, mlp)`` patch counts."""
    return sum(a + m for a, m in counts) / (2 * len(counts) * num_patches)


def counts_flops(
    bd: Any, n: int, counts: list[tuple[int, int]], merge_before: bool, width: int
) -> float:
    """Encoder FLOPs of blocks processing ``counts`` patch tokens from ``n`` entering.

    Each block costs its per-token linear work on its attention and MLP counts plus the
    quadratic attention term on its attention count (prefix tokens added), and each merge
    the matching's similarity matrix, ``2 |A| |B| width``.
    """
    p, total, entering = bd.num_prefix, 0.0, n
    for attended, mlp in counts:
        total += bd.block_cost(p + attended, 1, mlp_tokens=p + mlp)
        matched = entering if merge_before else attended
        if mlp < matched:
            total += 2.0 * ((matched + 1) // 2) * (matched // 2) * width
        entering = mlp
    return total


def check_keep(keep_fraction: float) -> float:
    if not 0.0 < float(keep_fraction) <= 1.0:
        raise ValueError(f"keep_fraction must lie in (0, 1], got {keep_fraction}")
    return float(keep_fraction)


@register_method
class ToMe(Architecture):
    """ToMe as in its paper on every frame (module doc); every patch enters the encoder.

    Args:
        tower: The vision tower.
        r: Tokens merged per block (capped at half the block's mergeable tokens).
        schedule: ``"constant"`` (``r`` per block) or ``"decreasing"`` (``2r`` down to 0,
            :func:`~neuroflow.baselines.tome_merge.schedule_r`).
        keep_fraction: When set, replaces ``r``: the ``r`` (under ``schedule``) whose
            token-layer share is closest to it, resolved per frame size.
        proportional: Proportional attention and size-weighted pooling (merging is always
            size-weighted).

    Reports ``keep_mask`` all True (every patch enters the encoder) and the token-layer
    keep fraction of the module doc.

    Raises:
        ValueError: A bad setting, or a ``keep_fraction`` below the lowest share the tower
            reaches at its native size (the message gives that share).
    """

    name = "tome"
    uses_gate = False
    # Class-var switches of the variants (tome_paper).
    merge_before: ClassVar[bool] = False
    weighted_merge: ClassVar[bool] = True

    def __init__(
        self,
        tower: VisionTower,
        r: int = 8,
        schedule: Schedule = "constant",
        keep_fraction: float | None = None,
        proportional: bool = True,
    ) -> None:
        super().__init__(tower)
        layers = len(tower.blocks)
        schedule_r(r, layers, schedule)  # validates r and schedule
        self.r, self.schedule, self.proportional = int(r), schedule, bool(proportional)
        self.target = None if keep_fraction is None else check_keep(keep_fraction)
        if self.target is not None:
            n = tower.native_side**2
            low = lowest_share(n, layers, schedule, self.merge_before)
            if self.target < low - REACH_TOLERANCE:
                raise KeepUnreachable(
                    f"method {self.name!r} cannot reach keep fraction {self.target:g} on this "
                    f"{layers}-block tower ({n} patches at its native size, {schedule} "
                    f"schedule): the lowest reachable is {low:.4f} (every block merging half "
                    "its tokens)"
                )

    @classmethod
    def keep_settings(cls, keep_fraction: float) -> dict[str, Any]:
        """``{"keep_fraction": k}``: resolved to an ``r`` where the tower is known."""
        return {"keep_fraction": check_keep(keep_fraction)}

    def r_for(self, num_patches: int) -> int:
        """The ``r`` this method runs with on frames of ``num_patches`` patches."""
        if self.target is None:
            return self.r
        layers = len(self.tower.blocks)
        return resolve_r(num_patches, layers, self.target, self.schedule, self.merge_before)

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        n = emb.patch_features.shape[1]
        rs = schedule_r(self.r_for(n), len(self.tower.blocks), self.schedule)
        tokens, counts = tome_encode(
            self.tower,
            emb.tokens,
            rs,
            merge_before=self.merge_before,
            proportional=self.proportional,
            weighted=self.weighted_merge,
        )
        pooled = self.tower.fast_pool(tokens.x, tokens.sizes if self.proportional else None)
        b, device = emb.tokens.shape[0], pooled.device
        keep = torch.ones(b, n, dtype=torch.bool, device=device)  # every patch enters
        share = torch.full((b,), share_of(counts, n), device=device)
        surprise = torch.zeros(b, n, device=device)
        return ArchOutput(pooled, keep, surprise, share, emb.stretch)

    @classmethod
    def patch_counts(cls, bd: Any, **settings: Any) -> list[tuple[int, int]]:
        """Per-block ``(attention, mlp)`` patch counts of a frame of ``bd`` under ``settings``."""
        n, layers = bd.num_patches, bd.layers
        schedule = settings.get("schedule", "constant")
        r, target = settings.get("r", 8), settings.get("keep_fraction")
        if target is not None:
            r = resolve_r(n, layers, float(target), schedule, cls.merge_before)
        return layer_counts(n, schedule_r(r, layers, schedule), cls.merge_before)

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        """Blocks on the per-block token counts of the settings (every patch enters; ``n``
        is unused). ``metric_dim``: width of the matching metric (default ``D``)."""
        width = settings.get("metric_dim") or bd.hidden_size
        counts = cls.patch_counts(bd, **settings)
        return counts_flops(bd, bd.num_patches, counts, cls.merge_before, width)

    @classmethod
    def frame_flops(cls, bd: Any, k: float, *, hf_head: bool = False, **settings: Any) -> float:
        """Patch embedding, the merged blocks and the head over the final merged tokens.

        The cost is set by the ``r`` settings alone; ``k`` (which this method reports
        itself) is only range-checked.
        """
        if not 0.0 <= k <= 1.0:
            raise ValueError(f"keep fraction must lie in [0, 1], got {k}")
        final = bd.num_prefix + cls.patch_counts(bd, **settings)[-1][1]
        head = bd.hf_head if hf_head else bd.head
        return bd.patch_embed + cls.encoder_flops(bd, bd.tokens, **settings) + head(final)

    def cost_settings(self) -> dict[str, Any]:
        block = self.tower.blocks[0]
        width = self.tower.hidden_size if self.merge_before else block.head_dim
        return {
            "r": self.r,
            "schedule": self.schedule,
            "keep_fraction": self.target,
            "metric_dim": width,
        }


@register_method
class ToMePaper(ToMe):
    """The NeuroFlow paper's ToMe (module doc): merge before each block, no sizes used.

    Args:
        tower: The vision tower.
        r: Tokens merged before each block.
        schedule: ``"constant"`` or ``"decreasing"``.
        keep_fraction: When set, replaces ``r`` (see :class:`ToMe`).
    """

    name = "tome_paper"
    merge_before = True
    weighted_merge = False

    def __init__(
        self,
        tower: VisionTower,
        r: int = 8,
        schedule: Schedule = "constant",
        keep_fraction: float | None = None,
    ) -> None:
        super().__init__(tower, r, schedule, keep_fraction, proportional=False)
