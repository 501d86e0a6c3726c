"""``"gate_tome"``: the retinal gate, then ToMe among the active tokens, with Arch C's cache.

The gate picks the active patches, ToMe (:mod:`neuroflow.baselines.tome`) merges among them in
the encoder, every merged output is copied back to all its source patches (unmerge) and written
into Arch C's cortical cache; the head pools over every cached token like C. Its keep fraction
is the gate's share times ToMe's token-layer share of the active tokens.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from neuroflow.archs.base import ArchOutput, StreamState
from neuroflow.archs.pruned import ArchC
from neuroflow.archs.registry import register_method
from neuroflow.baselines.tome import check_keep, counts_flops, share_of
from neuroflow.baselines.tome_merge import layer_counts, resolve_r, tome_encode, unmerge
from neuroflow.core.cache import CorticalCache
from neuroflow.core.packing import make_packing
from neuroflow.core.protocols import Gate
from neuroflow.models.tower import Embedded, VisionTower

# gate_tome's merge fraction where keep_settings is free to choose it.
DEFAULT_MERGE_FRACTION = 0.5


@lru_cache(maxsize=64)
def keep_by_active(num_patches: int, layers: int, merge_fraction: float) -> Tensor:
    """``gate_tome``'s reported keep for every active count ``0..N`` (float64, by count)."""
    keeps = []
    for active in range(num_patches + 1):
        r = GateToMe.r_of(active, layers, merge_fraction)
        keeps.append(share_of(layer_counts(active, [r] * layers), num_patches))
    return torch.tensor(keeps, dtype=torch.float64)


@register_method
class GateToMe(ArchC):
    """The retinal gate, then ToMe among the active tokens, with Arch C's cortical cache.

    The active patches (and prefix) run through the encoder with ToMe merging (between
    attention and MLP, proportional attention); at the end every merged token's output is
    copied to all its source patches and written into the cache, and the head pools over
    all cached tokens like C (a merged token copied ``s`` times weighs like size ``s``).

    With a budget gate every stream has the same active count: one plain batch. With a
    threshold gate the counts differ: streams of equal count run as one batch each (a
    stream's merges never depend on the others).

    ``merge_fraction`` ``f``: ToMe removes about this share of the ``n`` active tokens over
    the depth: a constant ``r`` per block of ``L`` merges ``r L = f n`` tokens, so block
    ``l``'s attention sees ``n - l r`` and its MLP ``n - (l + 1) r`` and the token-layer
    share is ``1 - r L / (2 n) = 1 - f / 2``. ``r`` is the one whose share (caps included)
    is closest to ``1 - f / 2``, resolved per active count.

    Args:
        tower: The vision tower.
        gate: The retinal gate (dense first frame: it fills the cache).
        cache: Cache write policy.
        merge_fraction: ``f`` in [0, 1].
    """

    name = "gate_tome"

    def __init__(
        self,
        tower: VisionTower,
        gate: Gate,
        cache: CorticalCache | None = None,
        merge_fraction: float = DEFAULT_MERGE_FRACTION,
    ) -> None:
        if not 0.0 <= float(merge_fraction) <= 1.0:
            raise ValueError(f"merge_fraction must lie in [0, 1], got {merge_fraction}")
        super().__init__(tower, gate, cache)
        self.merge_fraction = float(merge_fraction)

    @classmethod
    def keep_settings(cls, keep_fraction: float) -> dict[str, Any]:
        """A budget gate and a merge fraction whose token-layer keep is ``k``.

        Reported keep = gate share ``g`` times ToMe's share ``1 - f / 2``, so ``g = k / (1 -
        f / 2)`` with ``f`` = 0.5, lowered to ``2 (1 - k)`` where ``g`` would pass 1.
        """
        k = check_keep(keep_fraction)
        # Rounded so configs and result tables show 0.4, not 0.39999999999999997.
        merge = round(min(DEFAULT_MERGE_FRACTION, 2.0 * (1.0 - k)), 12)
        gate = round(min(1.0, k / (1.0 - merge / 2.0)), 12)
        return {"mode": "budget", "keep_fraction": gate, "merge_fraction": merge}

    @staticmethod
    def r_of(active: int, layers: int, merge_fraction: float) -> int:
        """Constant ``r`` for ``active`` patch tokens (class doc)."""
        if merge_fraction == 0.0 or active < 2:
            return 0
        return resolve_r(active, layers, 1.0 - merge_fraction / 2.0)

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        full = self.full_keep(gated.keep_mask)
        packing = make_packing(full)
        b, n = gated.keep_mask.shape
        prefix, layers = self.tower.num_prefix_tokens, len(self.tower.blocks)
        outputs: list[Tensor | None] = [None] * b
        share = torch.zeros(b)
        for count in sorted(set(packing.lengths)):
            rows = [i for i, c in enumerate(packing.lengths) if c == count]
            if count == 0:  # nothing of this stream reaches the encoder
                continue
            index = torch.tensor(rows, device=full.device)
            x = emb.tokens[index][full[index]].view(len(rows), count, -1)
            r = self.r_of(count - prefix, layers, self.merge_fraction)
            tokens, counts = tome_encode(self.tower, x, [r] * layers)
            out = unmerge(tokens, prefix)
            for j, row in enumerate(rows):
                outputs[row] = out[j]
            share[index.cpu()] = share_of(counts, n)
        kept = [o for o in outputs if o is not None]
        packed = torch.cat(kept) if kept else emb.tokens.new_zeros(0, emb.tokens.shape[-1])
        pooled = self.cached_pool(packed, packing, gated, emb, state)
        share = share.to(pooled.device)
        return ArchOutput(pooled, gated.keep_mask, gated.surprise, share, emb.stretch)

    @classmethod
    def frame_flops(cls, bd: Any, k: float, *, hf_head: bool = False, **settings: Any) -> float:
        """Cost at reported keep ``k``: the active count whose reported keep is closest to
        ``k`` (so a stream's own report gives its exact cost), ToMe's blocks on its counts,
        the head over every cached token. ``f = 0`` is exactly Arch C's model."""
        merge = float(settings.get("merge_fraction", DEFAULT_MERGE_FRACTION))
        if merge == 0.0:
            return ArchC.frame_flops(bd, k, hf_head=hf_head)
        if not 0.0 <= k <= 1.0:
            raise ValueError(f"keep fraction must lie in [0, 1], got {k}")
        table = keep_by_active(bd.num_patches, bd.layers, merge)
        active = int((table - k).abs().argmin())
        counts = layer_counts(active, [cls.r_of(active, bd.layers, merge)] * bd.layers)
        width = settings.get("metric_dim") or bd.hidden_size
        encoder = counts_flops(bd, active, counts, False, width)
        head = bd.hf_head if hf_head else bd.head
        return bd.patch_embed + encoder + head(bd.tokens)

    def cost_settings(self) -> dict[str, Any]:
        return {"merge_fraction": self.merge_fraction, "metric_dim": self.tower.blocks[0].head_dim}
