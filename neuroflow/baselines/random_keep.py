"""Random keep: recompute a random subset of patches each frame (the control for the gate).

:class:`RandomKeepGate` has the retinal gate's interface (``.config``, ``.new_state``,
``.step``), so it drops into Arch B/C/D in place of :class:`~neuroflow.core.gate.RetinalGate`:
same encoder, same cortical cache, only *which* patches are recomputed differs. Each frame
keeps ``ceil(keep_fraction * N)`` patches (at least ``floor_tokens``) chosen uniformly at
random, or exactly the per-stream counts set with :meth:`RandomKeepState.set_counts` (to
match another gate frame by frame). The first frame after a reset is dense. Every stream
draws from its own seeded generator, so a stream's choices do not depend on the batch.

Registered as the methods ``"random_B"`` and ``"random_C"``: ``make_arch("random_C", tower,
keep_fraction=0.2, seed=0)`` (or a :class:`~neuroflow.core.gate.GateConfig`, whose
``keep_fraction``, ``floor_tokens`` and ``dense_first_frame`` it reads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from neuroflow.archs import make_arch
from neuroflow.archs.pruned import ArchB, ArchC
from neuroflow.archs.registry import register_method
from neuroflow.core.cache import CorticalCache
from neuroflow.core.checks import check_counts, check_floor
from neuroflow.core.gate import GateConfig, GateOutput, stream_indices
from neuroflow.models.tower import VisionTower


class RandomKeepState:
    """Per-stream state of a :class:`RandomKeepGate`: generators, fresh flags, counts.

    Args:
        batch: Number of streams.
        seed: Base seed; stream ``b`` uses ``seed * 100003 + b``.
    """

    # Per-stream rows (attribute -> batch axis), for stacking streams (neuroflow.core.rows).
    ROWS: ClassVar[dict[str, int]] = {"generators": 0, "fresh": 0, "frames": 0, "counts": 0}

    def __init__(self, batch: int, seed: int) -> None:
        if int(batch) != batch or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch}")
        self.batch = int(batch)
        self.seed = int(seed)
        self.generators = [
            torch.Generator().manual_seed(self.seed * 100003 + b) for b in range(self.batch)
        ]
        self.fresh = torch.ones(self.batch, dtype=torch.bool)
        self.frames = torch.zeros(self.batch, dtype=torch.long)
        self.counts: Tensor | None = None

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Start the given streams (all when None) afresh: their next frame is dense."""
        idx = self._indices(streams)
        self.fresh[idx] = True
        self.frames[idx] = 0

    def reseed(self, seeds: Sequence[int], streams: Sequence[int] | None = None) -> None:
        """Reseed the generators of the given streams (all when None), e.g. one seed per clip."""
        idx = self._indices(streams).tolist()
        if len(seeds) != len(idx):
            raise ValueError(f"got {len(seeds)} seeds for {len(idx)} streams")
        for b, s in zip(idx, seeds, strict=True):
            self.generators[b].manual_seed(int(s))

    def set_counts(self, counts: Tensor | Sequence[int] | None) -> None:
        """Patches to keep per stream on the next frames (None: use the keep fraction)."""
        self.counts = check_counts(counts, self.batch)

    def nbytes(self) -> int:
        """Bytes of tensor state (the generators' states are not counted)."""
        tensors = [self.fresh, self.frames, self.counts]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    def _indices(self, streams: Sequence[int] | None) -> Tensor:
        return stream_indices(self.batch, streams)


class CountGate:
    """Base of the gates that keep a share of the patches by count, with no threshold.

    Args:
        keep_fraction: Share of patches kept per frame, in (0, 1].
        floor_tokens: Minimum patches kept per frame.
        dense_first_frame: Keep every patch on a stream's first frame (fills the cache).
    """

    # It keeps a share of the patches by count, with no threshold (run labels say so).
    by_count: ClassVar[bool] = True

    def __init__(
        self, keep_fraction: float = 0.2, floor_tokens: int = 0, dense_first_frame: bool = True
    ) -> None:
        # A GateConfig carries the settings the architectures read (signal, first frame).
        self.config = GateConfig(
            mode="budget",
            keep_fraction=keep_fraction,
            floor_tokens=floor_tokens,
            dense_first_frame=dense_first_frame,
        )

    def count(self, num_tokens: int) -> int:
        """Patches kept per frame: ``ceil(keep_fraction * N)``, at least 1 and the floor."""
        wanted = math.ceil(self.config.keep_fraction * num_tokens - 1e-9)
        return min(num_tokens, max(1, wanted, self.config.floor_tokens))

    @staticmethod
    def finish(keep: Tensor, fresh: Tensor, state: Any, features: Tensor) -> GateOutput:
        """Advance the streams' frame counters and return the frame's decision (no surprise:
        nothing is scored)."""
        state.fresh.zero_()
        state.frames += 1
        keep = keep.to(features.device)
        surprise = torch.zeros(keep.shape, device=features.device)
        return GateOutput(keep, surprise, keep.float().mean(dim=1), fresh.to(features.device))


class RandomKeepGate(CountGate):
    """Keeps random patches; a drop-in replacement for the retinal gate.

    Args:
        keep_fraction: Share of patches kept per frame, in (0, 1].
        floor_tokens: Minimum patches kept per frame.
        seed: Base seed of the per-stream generators.
        dense_first_frame: Keep every patch on a stream's first frame (fills the cache).
    """

    def __init__(
        self,
        keep_fraction: float = 0.2,
        floor_tokens: int = 0,
        seed: int = 0,
        dense_first_frame: bool = True,
    ) -> None:
        super().__init__(keep_fraction, floor_tokens, dense_first_frame)
        self.seed = int(seed)

    @classmethod
    def from_config(cls, config: GateConfig, seed: int = 0) -> RandomKeepGate:
        """Random keep at ``config.keep_fraction`` with its floor and first-frame rule."""
        return cls(config.keep_fraction, config.floor_tokens, seed, config.dense_first_frame)

    def new_state(self, batch: int) -> RandomKeepState:
        """A fresh state for ``batch`` independent streams."""
        return RandomKeepState(batch, self.seed)

    @torch.no_grad()
    def step(self, features: Tensor, state: RandomKeepState) -> GateOutput:
        """Choose the kept patches of one frame of every stream.

        Args:
            features: ``[B, N, D]`` layer-0 features (only the shape is used).
            state: The streams' state; updated in place.
        """
        if features.dim() != 3:
            raise ValueError(f"gate features must be [B, N, D], got shape {tuple(features.shape)}")
        b, n, _ = features.shape
        check_floor(self.config.floor_tokens, n)  # as the retinal gate: never silently clamped
        if b != state.batch:
            raise ValueError(
                f"frame batch has {b} streams but the state was made for {state.batch}"
            )
        counts = state.counts.tolist() if state.counts is not None else [self.count(n)] * b
        keep = torch.zeros(b, n, dtype=torch.bool)
        for i in range(b):
            order = torch.randperm(n, generator=state.generators[i])
            keep[i, order[: min(n, int(counts[i]))]] = True
        fresh = state.fresh.clone()
        if self.config.dense_first_frame:
            keep |= fresh[:, None]
        return self.finish(keep, fresh, state, features)


@register_method
class RandomKeepB(ArchB):
    """Arch B's encoder and pooling with random patches kept (the control for B)."""

    name = "random_B"
    gate_type = RandomKeepGate


@register_method
class RandomKeepC(ArchC):
    """Arch C's encoder and cortical cache with random patches kept (the control for C)."""

    name = "random_C"
    gate_type = RandomKeepGate


def random_keep_arch(
    name: str,
    tower: VisionTower,
    keep_fraction: float,
    seed: int = 0,
    floor_tokens: int = 0,
    cache: CorticalCache | None = None,
) -> ArchB:
    """Arch ``"B"`` or ``"C"`` over ``tower`` with a :class:`RandomKeepGate`.

    Args:
        name: ``"B"`` or ``"C"``.
        tower: The vision tower.
        keep_fraction: Share of patches recomputed per frame.
        seed: Base seed of the per-stream generators.
        floor_tokens: Minimum patches per frame.
        cache: Cortical-cache policy for C (default: hard replacement).
    """
    if name.upper() not in ("B", "C"):
        raise ValueError(f"random keep supports architectures 'B' and 'C', got {name!r}")
    gate = RandomKeepGate(keep_fraction, floor_tokens=floor_tokens, seed=seed)
    extra = {"cache": cache} if name.upper() == "C" else {}
    return make_arch(f"random_{name.upper()}", tower, gate=gate, **extra)  # type: ignore[return-value]
