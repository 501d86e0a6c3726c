"""What the multi-stream benchmark times: the engine, the one-stream-at-a-time loop, variants.

:class:`EngineMethod` wraps a :class:`~neuroflow.stream.StreamEngine` (row ``s`` of a batch is
stream ``s``) and :class:`LoopMethod` runs the same architecture one stream at a time, both
behind the harness's :class:`~neuroflow.bench.methods.BenchMethod` interface; an engine
variant times the engine again under a process-wide switch (:data:`VARIANTS`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from neuroflow.archs import Architecture
from neuroflow.bench.methods import BenchMethod
from neuroflow.core.schedules import TargetKeep
from neuroflow.stream import StreamEngine


# --- engine variants: name -> factory of the context manager each timed tick runs under ------
# Imported only when asked for, so a checkout without a switch still runs everything else.
def _row_chunks() -> contextlib.AbstractContextManager:
    try:
        from neuroflow.models.row_chunks import row_chunking
    except ImportError as err:
        raise ValueError(
            "engine variant 'row_chunks' needs neuroflow.models.row_chunks.row_chunking, "
            "which this checkout lacks"
        ) from err
    # True: a layer shape without a cached row table is measured on first use, which the
    # warm-up ticks (run under the variant too) absorb.
    return row_chunking(True)


def _masked_attention() -> contextlib.AbstractContextManager:
    try:
        from neuroflow.core.attention import use_attention_backend
    except ImportError as err:
        raise ValueError(
            "engine variant 'masked_attention' needs neuroflow.core.attention."
            "use_attention_backend, which this checkout lacks"
        ) from err
    return use_attention_backend("masked")


VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "row_chunks": _row_chunks,
    "masked_attention": _masked_attention,
}


def variant_context(name: str) -> contextlib.AbstractContextManager:
    """The context manager of engine variant ``name`` (a fresh one per call).

    Raises:
        ValueError: An unknown variant (the message lists the known ones), or a known one
            whose switch this checkout lacks.
    """
    if name not in VARIANTS:
        raise ValueError(f"unknown engine variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]()


# --- what is timed ------------------------------------------------------------------------------
@dataclass
class Calibration:
    """Per-stream gate settings at one stream count.

    Attributes:
        thresholds: Threshold each stream runs with (the controller's starting point).
        predicted: Gate-only keep fraction of each stream on its frames at that threshold.
        target_keep: The controller's target (None: thresholds stay fixed).
    """

    thresholds: list[float]
    predicted: list[float]
    target_keep: float | None = None


class EngineMethod(BenchMethod):
    """A :class:`StreamEngine` serving one stream per batch row (row ``s`` is stream ``s``).

    Args:
        arch: The sparse architecture.
        plan: Per-stream thresholds (and keep target).
        name: Row label.
        context: Factory of a context manager every tick runs under (an engine variant).
    """

    def __init__(
        self,
        arch: Architecture,
        plan: Calibration,
        name: str = "engine",
        context: Callable[[], contextlib.AbstractContextManager] | None = None,
    ) -> None:
        self.arch, self.plan, self.name, self.cost_model = arch, plan, name, arch.name
        self.context = context or contextlib.nullcontext
        self.last: StreamEngine | None = None  # the latest state made, for its size

    def flops(self, bd: Any, k: float) -> float:
        return self.arch.flops(bd, k)

    def new_state(self, batch: int) -> StreamEngine:
        engine = StreamEngine(self.arch)
        for s, threshold in enumerate(self.plan.thresholds[:batch]):
            engine.add_stream(f"s{s}", threshold=threshold, target_keep=self.plan.target_keep)
        self.last = engine
        return engine

    def reset(self, state: StreamEngine) -> None:
        for name in state.streams:
            state.reset_stream(name)  # keeps each stream's (calibrated or steered) threshold

    def step(self, pixels: Tensor, state: StreamEngine) -> tuple[Tensor, Tensor]:
        """One tick: ``([S] keep fractions, [S, D] embeddings)``."""
        results = self._tick(pixels, state)
        return self._keep(results), torch.stack([r.embedding for r in results])

    def __call__(self, pixels: Tensor, state: StreamEngine) -> Tensor:
        return self._keep(self._tick(pixels, state))

    def state_bytes(self) -> float:
        """Mean bytes the engine holds per stream (its latest state)."""
        names = self.last.streams if self.last else []
        return sum(self.last.state_bytes(n) for n in names) / len(names) if names else 0.0

    def _tick(self, pixels: Tensor, state: StreamEngine) -> list[Any]:
        with self.context():
            out = state.tick({n: pixels[i] for i, n in enumerate(state.streams)})
        return [out[n] for n in state.streams]

    @staticmethod
    def _keep(results: list[Any]) -> Tensor:
        return torch.tensor([r.keep_fraction for r in results])


@dataclass
class _Loop:
    states: list[Any]
    schedules: list[TargetKeep | None]
    frames: list[int]


class LoopMethod(BenchMethod):
    """The architecture run one stream at a time: ``S`` batch-1 states, ``S`` calls per tick.

    With a keep target each stream is steered by a :class:`TargetKeep` schedule, the step the
    engine's controller takes, so both run the same thresholds frame by frame.
    """

    def __init__(self, arch: Architecture, plan: Calibration) -> None:
        self.arch, self.plan, self.cost_model = arch, plan, arch.name
        self.name = f"loop_{arch.name}"
        self.last: _Loop | None = None

    def flops(self, bd: Any, k: float) -> float:
        return self.arch.flops(bd, k)

    def new_state(self, batch: int) -> _Loop:
        states, schedules = [], []
        for threshold in self.plan.thresholds[:batch]:
            state = self.arch.new_state(1)
            state.gate.set_threshold(threshold)  # type: ignore[union-attr]
            states.append(state)
            target = self.plan.target_keep
            schedules.append(None if target is None else TargetKeep(target, initial=threshold))
        self.last = _Loop(states, schedules, [0] * len(states))
        return self.last

    def reset(self, state: _Loop) -> None:
        for own in state.states:
            own.reset()
        state.frames = [0] * len(state.states)

    def step(self, pixels: Tensor, state: _Loop) -> tuple[Tensor, Tensor]:
        """One tick: ``([S] keep fractions, [S, D] embeddings)``."""
        keep, embedding = [], []
        for i, own in enumerate(state.states):
            out = self.arch(pixels[i : i + 1], own)
            schedule = state.schedules[i]
            if schedule is not None:
                schedule.after_frame(state.frames[i], out.keep_fraction, own.gate)
            state.frames[i] += 1
            keep.append(out.keep_fraction)
            embedding.append(out.embedding)
        return torch.cat(keep), torch.cat(embedding)

    def __call__(self, pixels: Tensor, state: _Loop) -> Tensor:
        return self.step(pixels, state)[0]

    def state_bytes(self) -> float:
        """Mean bytes of state per stream (its latest state)."""
        states = self.last.states if self.last else []
        return sum(s.nbytes() for s in states) / len(states) if states else 0.0
