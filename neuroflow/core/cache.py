"""The cortical cache: every patch's last final-layer output, refreshed for active patches.

The buffer itself (``[B, P + N, D]``) lives in the per-stream state; :class:`CorticalCache`
is the write policy: hard replacement (the paper's Eq. cache-update) or alpha blending
``C <- (1 - a) C + a z`` of the active slots. A stream's first frame after a reset always
replaces, so nothing from a previous clip survives, and so does a frame that recomputes every
patch (a keyframe: its outputs saw the whole context, there is nothing to smooth), which also
keeps a blended cache exact when every token is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from neuroflow.core.packing import Packing, pack, unpack_into

CacheMode = Literal["hard", "blend"]


@dataclass(frozen=True)
class CorticalCache:
    """Write policy of the cortical cache.

    Attributes:
        mode: ``"hard"`` replaces active slots; ``"blend"`` mixes the new output in with
            weight ``alpha``.
        alpha: Blend weight of the new output, in (0, 1]; used in ``"blend"`` mode.
    """

    mode: CacheMode = "hard"
    alpha: float = 0.01

    def __post_init__(self) -> None:
        if self.mode not in ("hard", "blend"):
            raise ValueError(f"cache mode must be 'hard' or 'blend', got {self.mode!r}")
        if not 0.0 < float(self.alpha) <= 1.0:
            raise ValueError(f"cache alpha must lie in (0, 1], got {self.alpha}")

    def write(self, buffer: Tensor, packed: Tensor, packing: Packing, fresh: Tensor) -> Tensor:
        """Write the packed outputs of the active tokens into ``buffer`` in place.

        Args:
            buffer: ``[B, P + N, D]`` cache of the streams.
            packed: ``[T, D]`` new final-layer outputs of the active tokens.
            packing: Where the active tokens sit in ``buffer``.
            fresh: ``[B]`` bool, streams on their first frame (always hard-replaced, like
                streams that recomputed every token this frame).

        Returns:
            ``buffer``.
        """
        if self.mode == "blend":
            old = pack(buffer, packing)
            lengths = torch.tensor(packing.lengths, device=packed.device)
            replace = fresh.to(packed.device) | (lengths == buffer.shape[1])
            row_fresh = torch.repeat_interleave(replace, lengths)
            mixed = old.lerp(packed.to(old.dtype), self.alpha)
            packed = torch.where(row_fresh[:, None], packed.to(old.dtype), mixed)
        return unpack_into(buffer, packed, packing)
