"""Interleaved timing of several methods on the same frames.

Every method sees the same input tensors (already on the device), inside one
``torch.inference_mode()`` region. Procedure:

1. warm-up: each method processes the first ``warmup`` frames of the clip (real motion, so the
   sparse paths run at their working keep fraction, not on a frozen frame);
2. every method's state is reset, so the timed run starts with a dense keyframe;
3. timed run in rounds: the frames are cut into rounds of ``round_frames`` frames; in each
   round every method processes the round's frames back to back, the methods taking turns in
   an order shuffled per round (seeded). Rounds keep drift and background load hitting all
   methods alike, while a method runs a few frames in a row as it would alone: switching
   methods every frame makes each frame pay for the caches and freed buffers the previous
   method left, a cost that falls unevenly (it was measured at 3-5 % for the method that
   followed dense most often). The garbage collector is paused while timing.

The first timed frame (the keyframe that fills the caches) is recorded separately and left
out of the steady-state latency distribution and of the keep fraction.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from neuroflow.bench.methods import BenchMethod
from neuroflow.bench.timing import Clock, LatencyStats, latency_stats


@dataclass
class MethodRun:
    """Raw timings of one method.

    Attributes:
        name: Method label.
        seconds: Per-frame latency of the steady-state frames (keyframe excluded).
        keep: Per-frame mean keep fraction over streams, steady-state frames.
        keep_streams: Per-frame keep fraction of every stream, steady-state frames.
        first_frame: Latency of the keyframe right after the reset.
    """

    name: str
    seconds: list[float] = field(default_factory=list)
    keep: list[float] = field(default_factory=list)
    keep_streams: list[list[float]] = field(default_factory=list)
    first_frame: float = float("nan")

    @property
    def stats(self) -> LatencyStats:
        """Latency percentiles in ms."""
        return latency_stats(self.seconds)

    @property
    def keep_fraction(self) -> float:
        """Mean keep fraction over the steady-state frames."""
        return float(np.mean(self.keep)) if self.keep else float("nan")


def _check(methods: Mapping[str, BenchMethod], batches: Sequence[Tensor], warmup: int) -> None:
    if not methods:
        raise ValueError("no methods to time")
    if len(batches) < 2:
        raise ValueError(
            f"need at least 2 frames (a keyframe and one timed frame), got {len(batches)}"
        )
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")


def run_interleaved(
    methods: Mapping[str, BenchMethod],
    batches: Sequence[Tensor],
    *,
    warmup: int = 4,
    clock: Clock | None = None,
    round_frames: int = 8,
    seed: int = 0,
) -> dict[str, MethodRun]:
    """Time ``methods`` in interleaved rounds on ``batches`` (one ``[B, C, H, W]`` per frame).

    Args:
        methods: Label -> method; all must accept the batch size of ``batches``.
        batches: The frames, already on the device and in the dtype to time.
        warmup: Leading frames processed untimed before the reset.
        clock: Timer (default: one for the device of the first batch).
        round_frames: Frames per round (1: methods alternate every frame).
        seed: Seed of the per-round method order.

    Returns:
        Label -> :class:`MethodRun`.
    """
    _check(methods, batches, warmup)
    if round_frames < 1:
        raise ValueError(f"round_frames must be >= 1, got {round_frames}")
    rng = random.Random(seed)
    clock = clock or Clock(batches[0].device)
    batch = batches[0].shape[0]
    names = list(methods)
    states = {name: methods[name].new_state(batch) for name in names}
    runs = {name: MethodRun(name) for name in names}
    with torch.inference_mode():
        for frame in batches[: min(warmup, len(batches))]:
            for name in names:
                methods[name](frame, states[name])
        for name in names:
            methods[name].reset(states[name])
        clock.sync()
        gc.collect()
        gc.disable()
        try:
            for start in range(0, len(batches), round_frames):
                for name in rng.sample(names, len(names)):
                    for t in range(start, min(start + round_frames, len(batches))):
                        seconds, keep = clock.time(methods[name], batches[t], states[name])
                        _record(runs[name], t, seconds, keep)
        finally:
            gc.enable()
    return runs


def _record(run: MethodRun, t: int, seconds: float, keep: Tensor) -> None:
    if t == 0:
        run.first_frame = seconds
        return
    run.seconds.append(seconds)
    per_stream = keep.float().tolist()
    run.keep_streams.append(per_stream)
    run.keep.append(float(np.mean(per_stream)))
