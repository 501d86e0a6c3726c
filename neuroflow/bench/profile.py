"""Where a method's frame time goes: a torch.profiler operator table over a few frames."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.profiler import ProfilerActivity, profile

from neuroflow.bench.methods import BenchMethod


def profile_method(
    method: BenchMethod, batches: Sequence[Tensor], frames: int = 4, warmup: int = 4, rows: int = 20
) -> str:
    """Operator table (sorted by self time) of ``frames`` steady-state frames of ``method``.

    Args:
        method: The method to profile.
        batches: Consecutive frames on the device.
        frames: Profiled frames (after ``warmup`` untimed frames continuing the same stream).
        warmup: Untimed frames first, so the state is in its steady regime.
        rows: Operators listed.
    """
    if len(batches) < warmup + frames:
        raise ValueError(f"need {warmup + frames} frames to profile, got {len(batches)}")
    activities = [ProfilerActivity.CPU]
    cuda = batches[0].device.type == "cuda"
    if cuda:
        activities.append(ProfilerActivity.CUDA)
    state = method.new_state(batches[0].shape[0])
    with torch.inference_mode():
        for frame in batches[:warmup]:
            method(frame, state)
        with profile(activities=activities) as prof:
            for frame in batches[warmup : warmup + frames]:
                method(frame, state)
            if cuda:
                torch.cuda.synchronize()
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows)
