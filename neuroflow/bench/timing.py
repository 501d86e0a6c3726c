"""Per-call latency on CPU or CUDA, and latency statistics.

On CUDA a call is bracketed by CUDA events and the device is synchronised after it, so the
figure is the end-to-end latency of the frame (host launch gaps included) and the next call
starts on an idle device. On CPU it is ``time.perf_counter`` around the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

PERCENTILES = (5, 25, 50, 75, 95)


class Clock:
    """Times single calls on one device.

    Args:
        device: The device the timed work runs on.
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"

    def sync(self) -> None:
        """Wait for queued device work (no-op on CPU)."""
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time(self, fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
        """Seconds taken by ``fn(*args)`` (device work included) and its result."""
        if not self.cuda:
            start = time.perf_counter()
            result = fn(*args)
            return time.perf_counter() - start, result
        self.sync()
        begin = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        begin.record()
        result = fn(*args)
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1e3, result


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-frame latencies in milliseconds.

    Attributes:
        n: Number of timed frames.
        median: Median (P50).
        p5: 5th percentile.
        p25: 25th percentile.
        p75: 75th percentile.
        p95: 95th percentile.
        mean: Arithmetic mean.
    """

    n: int
    median: float
    p5: float
    p25: float
    p75: float
    p95: float
    mean: float

    def to_dict(self, prefix: str = "") -> dict[str, float]:
        """Fields as a dict, keys prefixed with ``prefix``."""
        return {f"{prefix}{k}": v for k, v in asdict(self).items()}


def latency_stats(seconds: Sequence[float]) -> LatencyStats:
    """Percentile summary (in ms) of per-frame latencies given in seconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    if ms.size == 0:
        raise ValueError("no latencies to summarise: time at least one frame")
    p5, p25, p50, p75, p95 = np.percentile(ms, PERCENTILES)
    return LatencyStats(
        int(ms.size), float(p50), float(p5), float(p25), float(p75), float(p95), float(ms.mean())
    )
