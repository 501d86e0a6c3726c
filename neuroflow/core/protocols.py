"""What an architecture needs from a gate: the :class:`Gate` protocol.

The retinal gate (:class:`~neuroflow.core.gate.RetinalGate`) and the controls that replace it
(random keep, ...) implement it, so every architecture runs with any of them: the encoder,
the cache and the pooling stay the same and only *which* patches are recomputed differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from torch import Tensor

from neuroflow.core.gate import GateConfig, GateOutput


@runtime_checkable
class GateStateLike(Protocol):
    """Per-stream gate state: made by :meth:`Gate.new_state`, updated by :meth:`Gate.step`."""

    batch: int

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Start the given streams (all when None) afresh: their next frame is dense."""

    def nbytes(self) -> int:
        """Bytes of tensor state held for all streams."""


@runtime_checkable
class Gate(Protocol):
    """Chooses, per stream and frame, the patches an architecture recomputes.

    Attributes:
        config: The settings architectures read (``signal``: which layer-0 feature the gate
            compares; ``dense_first_frame``: whether a stream's first frame keeps every patch).
    """

    config: GateConfig

    def new_state(self, batch: int) -> GateStateLike:
        """A fresh state for ``batch`` independent streams."""

    def step(self, features: Tensor, state: GateStateLike) -> GateOutput:
        """Keep mask, surprise and keep fraction of one frame of every stream.

        Args:
            features: ``[B, N, D]`` layer-0 features of the patches (no class tokens).
            state: The streams' state; updated in place.
        """
