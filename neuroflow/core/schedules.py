"""Sparsity schedules: how threshold, EMA decay and keyframes evolve over a stream.

A schedule drives a :class:`~neuroflow.core.gate.GateState` around each frame:
``begin_clip`` when streams start a new clip, ``before_frame`` before the gate runs and
``after_frame`` with the keep fractions the gate produced. Every schedule acts per stream,
so it composes with any gate and any number of streams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from neuroflow.core.gate import GateState, check_ema_decay, check_threshold


class Schedule:
    """Constant threshold: the gate's own settings, unchanged (the paper's protocol)."""

    def begin_clip(self, state: GateState, streams: Sequence[int] | None = None) -> None:
        """Streams ``streams`` (all when None) start a new clip."""

    def before_frame(self, frame: int, state: GateState) -> None:
        """Called before the gate scores frame ``frame`` (0-based within the clip)."""

    def after_frame(self, frame: int, keep_fraction: Tensor, state: GateState) -> None:
        """Called with the ``[B]`` keep fractions the gate chose for frame ``frame``."""


Constant = Schedule


class Warmup(Schedule):
    """Ramp the threshold linearly from ``start`` to ``target`` over the first frames.

    Args:
        target: Threshold reached after ``frames`` frames.
        frames: Length of the ramp.
        start: Threshold on frame 1 (0 recomputes every patch that changed at all).
    """

    def __init__(self, target: float, frames: int, start: float = 0.0) -> None:
        check_threshold(target)
        check_threshold(start)
        if frames < 1:
            raise ValueError(f"warm-up frames must be >= 1, got {frames}")
        self.target, self.frames, self.start = float(target), int(frames), float(start)

    def before_frame(self, frame: int, state: GateState) -> None:
        share = min(1.0, frame / self.frames)
        state.set_threshold(self.start + (self.target - self.start) * share)


class Keyframes(Schedule):
    """Recompute every patch every ``every`` frames (a dense keyframe, EMA kept)."""

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError(f"keyframe interval must be >= 1, got {every}")
        self.every = int(every)

    def before_frame(self, frame: int, state: GateState) -> None:
        if frame > 0 and frame % self.every == 0:
            state.force_keyframe()


class TargetKeep(Schedule):
    """Adapt each stream's threshold to hold a requested keep fraction ("run at 80% sparsity").

    After every non-first frame the threshold moves multiplicatively,
    ``theta <- theta * exp(gain * (k - target) / target)``, clipped to ``[min_threshold, 2]``:
    keeping too much raises it, too little lowers it.

    Args:
        target: Keep fraction to hold, in (0, 1].
        initial: Threshold each clip starts from.
        gain: Step size of the controller.
        min_threshold: Lower bound of the threshold.
        carry_over: Keep a stream's adapted threshold across clips instead of restarting
            from ``initial`` (serving); False keeps clip results independent (evaluation).
    """

    def __init__(
        self,
        target: float,
        initial: float = 0.1,
        gain: float = 0.5,
        min_threshold: float = 1e-5,
        carry_over: bool = False,
    ) -> None:
        if not 0.0 < target <= 1.0:
            raise ValueError(f"target keep fraction must lie in (0, 1], got {target}")
        check_threshold(initial)
        check_threshold(min_threshold)
        self.target, self.initial, self.gain = float(target), float(initial), float(gain)
        self.min_threshold, self.carry_over = float(min_threshold), carry_over

    def begin_clip(self, state: GateState, streams: Sequence[int] | None = None) -> None:
        if not self.carry_over:
            state.set_threshold(self.initial, streams)

    def after_frame(self, frame: int, keep_fraction: Tensor, state: GateState) -> None:
        if frame == 0:
            return  # first frames run dense and say nothing about the threshold
        new = adapt_threshold(
            state.threshold, keep_fraction, self.target, self.gain, self.min_threshold
        )
        state.set_threshold(new)


def adapt_threshold(
    threshold: Tensor,
    keep_fraction: Tensor,
    target: float | Tensor,
    gain: float = 0.5,
    min_threshold: float = 1e-5,
) -> Tensor:
    """One step of the target-keep controller (:class:`TargetKeep`), for every stream.

    ``theta <- theta * exp(gain * (k - target) / target)``, clipped to ``[min_threshold, 2]``.

    Args:
        threshold: ``[B]`` current thresholds.
        keep_fraction: ``[B]`` keep fractions the gate chose with them.
        target: Keep fraction to hold: one for all streams or ``[B]`` (one per stream).
        gain: Step size.
        min_threshold: Lower bound of the threshold.

    Returns:
        ``[B]`` new thresholds.
    """
    k = keep_fraction.float().to(threshold.device)
    target = torch.as_tensor(target, dtype=torch.float32, device=threshold.device)
    new = threshold * torch.exp(gain * (k - target) / target)
    return new.clamp(min_threshold, 2.0)


class Curriculum(Schedule):
    """Sample threshold and EMA decay per stream and clip (distillation curriculum).

    Args:
        threshold: ``(low, high)`` of the uniform threshold distribution.
        ema_decay: ``(low, high)`` of the uniform EMA-decay distribution.
        log_uniform: Sample log-uniformly (covers small values evenly).
        seed: Seed of the sampler's generator.
    """

    def __init__(
        self,
        threshold: Sequence[float] = (1e-4, 0.35),
        ema_decay: Sequence[float] = (1e-3, 0.1),
        log_uniform: bool = False,
        seed: int = 0,
    ) -> None:
        for bound in threshold:
            check_threshold(bound)
        for bound in ema_decay:
            check_ema_decay(bound)
        self.threshold, self.ema_decay = tuple(threshold), tuple(ema_decay)
        self.log_uniform = log_uniform
        self.generator = torch.Generator().manual_seed(seed)

    def _sample(self, bounds: tuple[float, ...], count: int) -> Tensor:
        low, high = bounds
        u = torch.rand(count, generator=self.generator, dtype=torch.float64)
        if self.log_uniform:
            return torch.exp(math.log(low) + u * (math.log(high) - math.log(low))).float()
        return (low + u * (high - low)).float()

    def begin_clip(self, state: GateState, streams: Sequence[int] | None = None) -> None:
        count = state.batch if streams is None else len(streams)
        state.set_threshold(self._sample(self.threshold, count), streams)
        state.set_ema_decay(self._sample(self.ema_decay, count), streams)


__all__ = ["Constant", "Curriculum", "Keyframes", "Schedule", "TargetKeep", "Warmup"]
