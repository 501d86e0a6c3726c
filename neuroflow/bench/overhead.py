"""Cost of the retinal gate alone: one ``step`` per frame on real layer-0 features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from neuroflow.bench.timing import Clock, LatencyStats, latency_stats
from neuroflow.core.gate import GateConfig, RetinalGate


@dataclass(frozen=True)
class GateOverhead:
    """Gate latency per frame.

    Attributes:
        stats: Latency percentiles in ms.
        dense_median_ms: Median dense frame latency of the same run.
    """

    stats: LatencyStats

    dense_median_ms: float

    @property
    def microseconds(self) -> float:
        """Median gate latency in microseconds."""
        return self.stats.median * 1e3

    @property
    def share(self) -> float:
        """Median gate latency as a fraction of the median dense frame."""
        return self.stats.median / self.dense_median_ms


def time_gate(
    features: Tensor,
    config: GateConfig,
    dense_median_ms: float,
    *,
    warmup: int = 4,
    clock: Clock | None = None,
) -> GateOverhead:
    """Time the gate over consecutive frames' features ``[T, B, N, D]`` (first frame untimed).

    Args:
        features: Gate features per frame and stream, on the device.
        config: Gate settings.
        dense_median_ms: Median dense latency to relate the gate cost to.
        warmup: Untimed frames before the reset.
        clock: Timer (default: one for the device of ``features``).
    """
    if features.dim() != 4 or features.shape[0] < 2:
        raise ValueError(f"features must be [T >= 2, B, N, D], got {tuple(features.shape)}")
    clock = clock or Clock(features.device)
    gate = RetinalGate(config)
    state = gate.new_state(features.shape[1])
    seconds = []
    with torch.inference_mode():
        for t in range(min(warmup, features.shape[0])):
            gate.step(features[t], state)
        state.reset()
        for t in range(features.shape[0]):
            elapsed, _ = clock.time(gate.step, features[t], state)
            if t > 0:
                seconds.append(elapsed)
    return GateOverhead(latency_stats(seconds), dense_median_ms)
