"""Whole-frame reuse: skip a frame that barely changed and return the last embedding.

The retinal gate scores every patch's surprise as usual. A stream whose frame has a mean
patch surprise at or below its own threshold (``state.gate.threshold[b]``, so schedules and
controllers act per stream) returns its previous embedding unchanged and runs nothing; any
other frame runs the dense tower on every token and its embedding is stored. A stream also
recomputes when the gate itself keeps every patch: its first frame after a reset (there is
nothing to reuse yet), a forced keyframe, or a floor/budget that covers all ``N`` patches
(which keeps "keep everything" exact). In a batch only the recomputing streams go through
the encoder.

Registered as ``"frame_reuse"``: ``make_arch("frame_reuse", tower, threshold=0.05)``. Its
keep fraction (1 on a recomputed frame, 0 on a reused one) is not set directly; matched-k
comparisons search ``threshold`` (:attr:`FrameReuse.calibrated`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from neuroflow.archs.base import Architecture, ArchOutput, StreamState
from neuroflow.archs.registry import register_method
from neuroflow.core.protocols import Gate
from neuroflow.models.tower import Embedded, VisionTower


class FrameReuseState(StreamState):
    """:class:`~neuroflow.archs.base.StreamState` plus each stream's last embedding.

    Attributes:
        previous: ``[B, D]`` embedding of each stream's last recomputed frame (None before
            the first frame; allocated lazily, so it is a lazy row when stacking).
    """

    ROWS: ClassVar[dict[str, int | str]] = {**StreamState.ROWS, "previous": 0}
    LAZY_ROWS: ClassVar[tuple[str, ...]] = (*StreamState.LAZY_ROWS, "previous")

    def __init__(self, batch: int, gate: Gate | None) -> None:
        super().__init__(batch, gate)
        self.previous: Tensor | None = None

    def nbytes(self) -> int:
        """Bytes of per-stream state, the stored embeddings included."""
        own = 0 if self.previous is None else self.previous.numel() * self.previous.element_size()
        return super().nbytes() + own


@register_method
class FrameReuse(Architecture):
    """Reuse the whole previous embedding of a stream when its frame barely changed.

    Args:
        tower: The vision tower.
        gate: The retinal gate; its state holds the per-stream threshold. Its mode only
            matters where it keeps every patch (a budget of 1.0, a floor of ``N``).

    Raises:
        ValueError: A gate setting that has no meaning for whole frames
            (``global_motion_norm`` zeroes every frame's mean surprise; ``max_cache_age``
            refreshes patches, and there is no per-patch cache here).
    """

    name = "frame_reuse"
    uses_gate = True
    calibrated = "threshold"

    def __init__(self, tower: VisionTower, gate: Gate) -> None:
        config = gate.config
        if getattr(config, "global_motion_norm", False):
            raise ValueError(
                "frame_reuse compares each frame's mean surprise with the threshold; "
                "global_motion_norm subtracts that mean (every frame would be reused): "
                "set global_motion_norm=False"
            )
        if getattr(config, "max_cache_age", None) is not None:
            raise ValueError(
                "frame_reuse keeps no per-patch cache, so max_cache_age does not apply: "
                "set max_cache_age=None"
            )
        super().__init__(tower, gate)

    @classmethod
    def frame_flops(cls, bd: Any, k: float, *, hf_head: bool = False, **settings: Any) -> float:
        """Patch embedding (the gate needs it) plus, on the share ``k`` of recomputed
        frames, the dense encoder and the head over all tokens."""
        if not 0.0 <= k <= 1.0:
            raise ValueError(f"keep fraction must lie in [0, 1], got {k}")
        head = bd.hf_head if hf_head else bd.head
        return bd.patch_embed + k * (bd.block_cost(bd.tokens, bd.layers) + head(bd.tokens))

    def new_state(self, batch: int = 1) -> FrameReuseState:
        """Fresh state for ``batch`` independent streams."""
        return FrameReuseState(batch, self.gate)

    def recompute(self, emb: Embedded, state: FrameReuseState) -> tuple[Tensor, Tensor]:
        """Run the gate and decide which streams recompute their frame.

        Returns:
            ``[B]`` bool, True for the streams that run the encoder, and the ``[B, N]``
            surprise the decision was made on.
        """
        gated = self.gate_step(emb, state)
        threshold = state.gate.threshold.to(gated.surprise.device)
        changed = gated.surprise.mean(dim=1) > threshold
        run = changed | gated.first_frame | gated.keep_mask.all(dim=1)
        if state.previous is None:  # nothing stored yet (only fresh streams get here)
            run = torch.ones_like(run)
        return run, gated.surprise

    def step(self, emb: Embedded, state: FrameReuseState) -> ArchOutput:
        run, surprise = self.recompute(emb, state)
        rows = run.nonzero().squeeze(1)
        if rows.numel():
            tokens = emb.tokens if rows.numel() == run.numel() else emb.tokens.index_select(0, rows)
            fresh = self.tower.fast_pool(self.tower.encode(tokens))
            stored = state.buffer("previous", (state.batch, fresh.shape[-1]), fresh)
            stored.index_copy_(0, rows.to(stored.device), fresh)
        assert state.previous is not None
        embedding = state.previous.clone()  # the caller's copy: later frames update the state
        keep = run[:, None].expand(-1, surprise.shape[1]).clone()
        return ArchOutput(embedding, keep, surprise, run.float(), emb.stretch)
