"""Turn raw timings into result rows: speedup, FLOPs, ceiling, state size, gate overhead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuroflow.bench.ceiling import ceiling, method_flops
from neuroflow.bench.flops import FlopBreakdown, flop_counter
from neuroflow.bench.frames import stream_batches
from neuroflow.bench.memory import StateSize, state_size
from neuroflow.bench.methods import BenchMethod
from neuroflow.bench.overhead import time_gate
from neuroflow.bench.runner import MethodRun
from neuroflow.bench.timing import Clock
from neuroflow.core.attention import use_attention_backend
from neuroflow.core.gate import GateConfig


@dataclass(frozen=True)
class MethodFlops:
    """Counted FLOPs of a method and the size of its state afterwards.

    Attributes:
        per_frame: Mean FLOPs per frame (all streams) over the counted steady-state frames.
        state: Size of the method's state after those frames.
        frames: FLOPs of each counted frame.
        keep: Keep fraction of each counted frame and stream, ``[frames][streams]``.
    """

    per_frame: float
    state: StateSize
    frames: list[int]
    keep: list[list[float]]


def count_method_flops(method: BenchMethod, batches: Sequence[Tensor], frames: int) -> MethodFlops:
    """Count FLOPs of frames ``1..frames`` (after an uncounted keyframe) with FlopCounterMode.

    Attention runs per stream while counting (the ``split`` backend): the cost models count
    each stream's own attention, while the masked backend that ``auto`` picks for tiny packs
    also computes the masked-out pairs (more FLOPs, fewer calls) and would count work that
    carries no result.
    """
    frames = max(1, min(frames, len(batches) - 1))
    state = method.new_state(batches[0].shape[0])
    counts, keep = [], []
    with torch.inference_mode(), use_attention_backend("split"):
        method(batches[0], state)
        for frame in batches[1 : frames + 1]:
            with flop_counter() as counter:
                kept = method(frame, state)
            counts.append(counter.get_total_flops())
            keep.append(kept.float().tolist())
    return MethodFlops(float(np.mean(counts)), state_size(state, batches[0].shape[0]), counts, keep)


def model_flops(method: BenchMethod, breakdown: FlopBreakdown, keep: list[float]) -> float:
    """Cost-model FLOPs of one frame of every stream (keep fraction per stream)."""
    return sum(method_flops(breakdown, k, method) for k in keep)


def method_ceiling(method: BenchMethod, breakdown: FlopBreakdown, k: float) -> float:
    """``S(k)`` of ``method`` (its cost model, repeats included)."""
    return ceiling(breakdown, k, method)


def paired_of_ceiling(
    dense: MethodRun, run: MethodRun, method: BenchMethod, breakdown: FlopBreakdown
) -> float:
    """Median over frames of ``(dense_t / method_t) / S(k_t)``: each frame's share of its own
    ceiling, robust to a keep fraction that varies from frame to frame."""
    ratios = [
        d / m / method_ceiling(method, breakdown, k)
        for d, m, k in zip(dense.seconds, run.seconds, run.keep, strict=True)
    ]
    return float(np.median(ratios))


def make_rows(
    runs: Mapping[str, MethodRun],
    methods: Mapping[str, BenchMethod],
    flops: Mapping[str, MethodFlops],
    breakdown: FlopBreakdown,
    context: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """One row per method; speedups are against the ``dense`` run of the same call.

    Three estimates of the share of the FLOP ceiling reached: ``of_ceiling`` (median speedup
    over ``S(median k)``), ``of_ceiling_mean`` (mean-latency speedup over the FLOP ratio of
    the timed frames) and ``of_ceiling_paired`` (median over frames of each frame's share).
    """
    dense = runs["dense"].stats
    work = {n: _mean_model_flops(methods[n], breakdown, r) for n, r in runs.items()}
    nd = breakdown.num_patches * breakdown.hidden_size
    rows = []
    for name, run in runs.items():
        method, stats, k = methods[name], run.stats, run.keep_fraction
        # Latency grows monotonically with k, so the median frame is the frame at the median
        # k: the median speedup pairs with S(median k); mean latency pairs with mean FLOPs.
        k_median = float(np.median(run.keep))
        limit = method_ceiling(method, breakdown, k_median)
        speedup = dense.median / stats.median
        size = flops[name].state
        rows.append(
            {
                **context,
                "method": name,
                "cost_model": method.cost_model,
                "k": k,
                **stats.to_dict("ms_"),
                "first_frame_ms": run.first_frame * 1e3,
                "fps": context.get("streams", 1) * 1e3 / stats.median,
                "speedup": speedup,
                "speedup_mean": dense.mean / stats.mean,
                "gflops": work[name] / 1e9,
                "flop_ratio": work["dense"] / work[name],
                "gflops_counted": flops[name].per_frame / 1e9,
                "flop_model_error": _model_error(method, breakdown, flops[name]),
                "k_median": k_median,
                "ceiling": limit,
                "of_ceiling": speedup / limit,
                "ceiling_mean_k": method_ceiling(method, breakdown, k),
                "of_ceiling_mean": (dense.mean / stats.mean) / (work["dense"] / work[name]),
                "of_ceiling_paired": paired_of_ceiling(runs["dense"], run, method, breakdown),
                "state_bytes_per_stream": size.bytes_per_stream,
                "state_elements_per_stream": size.elements_per_stream,
                "state_per_nd": size.elements_per_stream / nd,
            }
        )
    return rows


def _mean_model_flops(method: BenchMethod, breakdown: FlopBreakdown, run: MethodRun) -> float:
    """Mean cost-model FLOPs per timed frame (all streams), from each frame's keep fractions."""
    return float(np.mean([model_flops(method, breakdown, k) for k in run.keep_streams]))


def _model_error(method: BenchMethod, breakdown: FlopBreakdown, counted: MethodFlops) -> float:
    """Largest relative gap between FlopCounterMode's count and the cost model, per frame."""
    gaps = [
        abs(c / model_flops(method, breakdown, k) - 1.0)
        for c, k in zip(counted.frames, counted.keep, strict=True)
    ]
    return float(max(gaps))


def gate_row(
    features: Tensor,
    gate: GateConfig,
    streams: int,
    dense_ms: float,
    clock: Clock,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Gate latency per frame for ``streams`` streams, in µs and as a share of dense."""
    per_tick = torch.stack(stream_batches(features, streams))
    result = time_gate(per_tick, gate, dense_ms, clock=clock)
    return {
        **context,
        "streams": streams,
        "gate_us": result.microseconds,
        **result.stats.to_dict("gate_ms_"),
        "dense_ms": dense_ms,
        "gate_share": result.share,
    }
