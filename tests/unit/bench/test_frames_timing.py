"""Clip loading, stream batching and the latency summary."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from neuroflow.bench.frames import load_clip, ping_pong, prepare, stream_batches
from neuroflow.bench.timing import Clock, latency_stats


def test_ping_pong_never_jumps():
    seq = [ping_pong(i, 4) for i in range(10)]
    assert seq == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert all(abs(a - b) == 1 for a, b in zip(seq, seq[1:], strict=False))
    assert ping_pong(7, 1) == 0
    with pytest.raises(ValueError):
        ping_pong(0, 0)


def test_stream_batches_offset_each_stream():
    frames = torch.arange(8.0).view(8, 1, 1, 1)
    batches = stream_batches(frames, 2, ticks=3)
    assert [b.flatten().tolist() for b in batches] == [[0, 4], [1, 5], [2, 6]]
    late = stream_batches(frames, 3, ticks=2, offset=3)  # stream 2 starts at 6, turns at 7
    assert [b.flatten().tolist() for b in late] == [[0, 3, 6], [1, 4, 7]]
    assert stream_batches(frames, 3, ticks=3, offset=3)[2].flatten().tolist() == [2, 5, 6]
    with pytest.raises(ValueError):
        stream_batches(frames, 0)


def test_load_and_prepare_a_clip(clip_path):
    clip = load_clip(clip_path, start=2, frames=5)
    assert clip.shape == (5, 48, 64, 3) and clip.dtype == torch.uint8
    pixels = prepare(clip, 32)
    assert pixels.shape == (5, 3, 32, 32) and pixels.is_contiguous()
    assert -1.0 <= float(pixels.min()) and float(pixels.max()) <= 1.0
    with pytest.raises(ValueError):
        load_clip(clip_path, frames=0)
    with pytest.raises(ValueError, match="has 16 frames"):
        load_clip(clip_path, start=10, frames=10)
    assert load_clip(clip_path, start=10, frames=4, extra=20).shape[0] == 6  # extra where it exists
    assert load_clip(clip_path, start=0, frames=4, extra=3).shape[0] == 7


def test_latency_stats_percentiles():
    stats = latency_stats([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert stats.n == 100 and stats.median == pytest.approx(50.5)
    assert stats.p5 == pytest.approx(np.percentile(np.arange(1, 101), 5))
    assert stats.p5 < stats.p25 < stats.median < stats.p75 < stats.p95
    assert set(stats.to_dict("ms_")) >= {"ms_median", "ms_p95"}
    with pytest.raises(ValueError):
        latency_stats([])


def test_cpu_clock_measures_the_call():
    seconds, result = Clock("cpu").time(lambda: time.sleep(0.01) or 7)
    assert result == 7 and 0.009 <= seconds < 0.5
