"""The benchmark: resolutions x keep targets x stream counts, every method in one process.

For each resolution the clip is resized once; for each keep target the gate threshold is
searched on that clip; for each stream count every method is timed frame-interleaved
(:func:`~neuroflow.bench.runner.run_interleaved`), its FLOPs are counted, and its state is
measured. One row per (resolution, target, streams, method).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from neuroflow.bench.flops import FlopBreakdown, measure_breakdown
from neuroflow.bench.frames import load_clip, prepare, stream_batches
from neuroflow.bench.machine import machine_info
from neuroflow.bench.measure import count_method_flops, gate_row, make_rows
from neuroflow.bench.profile import profile_method
from neuroflow.bench.registry import LoadedTower, build_methods, build_tower
from neuroflow.bench.runner import run_interleaved
from neuroflow.bench.timing import Clock
from neuroflow.core.gate import GateConfig
from neuroflow.core.threshold_search import gate_features, keep_fraction, search_threshold
from neuroflow.models.dtypes import parse_dtype
from neuroflow.models.tower import VisionTower


@dataclass
class BenchSettings:
    """Everything a benchmark run depends on (the CLI fills it from ``conf/bench.yaml``).

    Attributes:
        model: ``"random:siglip-b16"`` (full size, random weights), ``"tiny-siglip"``, a
            local directory or a hub id.
        adapter: A distilled adapter file (``neuroflow-distill``) merged into the tower.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"`` (the same for every method).
        device: ``"cpu"`` or ``"cuda"``.
        threads: ``torch.set_num_threads`` value (None: leave torch's default).
        video: Sample clip name or video path.
        start: First clip frame (the street clip is nearly static before frame ~60).
        frames: Timed frames (the first is the keyframe after the reset).
        warmup: Untimed warm-up frames before the reset.
        round_frames: Frames a method processes back to back before the next takes its turn.
        resolutions: Square input sides.
        methods: Methods to time (``dense`` is always added).
        gate: Gate settings (its threshold is replaced when ``target_keep`` is set).
        target_keep: Keep fractions to reach by threshold search (empty: use the threshold).
        streams: Concurrent stream counts.
        stream_offset: Frames between the starts of consecutive streams in the clip.
        dense_layers: Arch D's dense blocks (None: half).
        flop_frames: Steady-state frames whose FLOPs are counted per method.
        seed: Seed of the random weights and of random keep.
        profile: Also record a torch.profiler operator table per method (fewest streams).
    """

    model: str = "random:siglip-b16"
    adapter: str | None = None
    dtype: str = "float32"
    device: str = "cpu"
    threads: int | None = None
    video: str = "bikes"
    start: int = 60
    frames: int = 64
    warmup: int = 8
    round_frames: int = 8
    resolutions: list[int] = field(default_factory=lambda: [224])
    methods: list[str] = field(default_factory=lambda: ["dense", "B", "C", "plain"])
    gate: GateConfig = field(default_factory=GateConfig)
    target_keep: list[float] = field(default_factory=list)
    streams: list[int] = field(default_factory=lambda: [1])
    stream_offset: int = 16
    dense_layers: int | None = None
    flop_frames: int = 4
    seed: int = 0
    profile: bool = False


@dataclass
class BenchReport:
    """Everything a run measured.

    Attributes:
        meta: Machine, software, model and clip facts.
        rows: One dict per (resolution, target, streams, method).
        gate: Gate overhead per resolution.
        breakdowns: Dense FLOP breakdown per resolution.
        profiles: Operator tables by ``<method>_<res>px`` (when profiling was asked for).
        samples: Per-frame latencies (ms) and keep fractions behind every row.
    """

    meta: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    gate: list[dict[str, Any]] = field(default_factory=list)
    breakdowns: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def machine_busy(meta: dict[str, Any]) -> bool:
    """True when the 1-minute load before the run exceeds half the CPU cores."""
    load = meta.get("load_average")
    return bool(load) and load[0] > 0.5 * (meta.get("cpu_count") or 1)


def _gate_points(
    settings: BenchSettings, features: torch.Tensor
) -> list[tuple[GateConfig, float | None]]:
    """Gate configs to run at one resolution, with the target each one was searched for."""
    if settings.gate.mode == "budget" or not settings.target_keep:
        return [(settings.gate, None)]
    points = []
    for target in settings.target_keep:
        threshold, _ = search_threshold(features, settings.gate, float(target))
        points.append((replace(settings.gate, threshold=threshold), float(target)))
    return points


def _start_report(
    settings: BenchSettings, loaded: LoadedTower, clip: Tensor, log: Callable[[str], None]
) -> BenchReport:
    """A report holding the machine and run facts; warns when the machine is busy."""
    report = BenchReport(
        meta={
            **machine_info(settings.device, parse_dtype(settings.dtype)),
            "model": loaded.label,
            "random_weights": loaded.random_weights,
            "video": str(settings.video),
            "clip_start": settings.start,
            "clip_frames": settings.frames,
            "stream_offset": settings.stream_offset,
            "clip_size": list(clip.shape[1:3]),
            "warmup": settings.warmup,
            "round_frames": settings.round_frames,
        }
    )
    report.meta["busy_at_start"] = machine_busy(report.meta)
    if report.meta["busy_at_start"]:
        log(
            f"warning: the machine is busy before the run (load {report.meta['load_average']} on "
            f"{report.meta['cpu_count']} cores); interleaving spreads the load over all methods "
            "but multi-threaded kernels stall, so absolute times and speedups are skewed"
        )
    return report


@dataclass
class _Point:
    """One resolution and gate setting: what every stream count of it shares."""

    size: int
    frames: Tensor
    features: Tensor
    breakdown: FlopBreakdown
    gate: GateConfig
    target: float | None
    k_gate: float


def _time_point(
    settings: BenchSettings,
    tower: VisionTower,
    point: _Point,
    streams: int,
    clock: Clock,
    report: BenchReport,
    log: Callable[[str], None],
) -> None:
    """Time every method at one (resolution, gate, stream count); add rows and samples."""
    batches = stream_batches(
        point.frames, streams, ticks=settings.frames, offset=settings.stream_offset
    )

    def unreachable(name: str, reason: str) -> None:
        log(f"{point.size}px: {name} left out at k={point.k_gate:.3f}: {reason}")
        entry = {"resolution": point.size, "keep_fraction": point.k_gate, "method": name}
        report.meta.setdefault("unreachable", []).append({**entry, "reason": reason})

    methods = build_methods(
        list(settings.methods),
        tower,
        point.gate,
        on_unreachable=unreachable,
        keep_fraction=point.k_gate,
        dense_layers=settings.dense_layers,
        seed=settings.seed,
    )
    log(
        f"{point.size}px, {streams} stream(s): timing {', '.join(methods)} "
        f"over {len(batches)} frames"
    )
    runs = run_interleaved(
        methods,
        batches,
        warmup=settings.warmup,
        clock=clock,
        round_frames=settings.round_frames,
        seed=settings.seed,
    )
    flops = {n: count_method_flops(m, batches, settings.flop_frames) for n, m in methods.items()}
    context = {
        "resolution": point.size,
        "tokens": point.breakdown.num_patches,
        "streams": streams,
        "threshold": point.gate.threshold,
        "target_keep": point.target,
        "gate_mode": point.gate.mode,
    }
    report.rows += make_rows(runs, methods, flops, point.breakdown, context)
    report.samples += [
        {**context, "method": n, "ms": [x * 1e3 for x in r.seconds], "keep": r.keep}
        for n, r in runs.items()
    ]
    if streams != min(settings.streams):
        return
    gate_context = {"resolution": point.size, "threshold": point.gate.threshold}
    dense_ms = runs["dense"].stats.median
    report.gate.append(gate_row(point.features, point.gate, streams, dense_ms, clock, gate_context))
    if settings.profile:
        tag = "" if point.target is None else f"_k{point.target:g}"
        for name, method in methods.items():
            report.profiles[f"{name}_{point.size}px{tag}"] = profile_method(
                method, batches, frames=min(4, len(batches) // 2), warmup=len(batches) // 2
            )


def run_benchmark(settings: BenchSettings, log: Callable[[str], None] = print) -> BenchReport:
    """Run the whole benchmark described by ``settings``."""
    if settings.threads:
        torch.set_num_threads(int(settings.threads))
    dtype = parse_dtype(settings.dtype)
    loaded = build_tower(settings.model, dtype, settings.device, settings.seed, settings.adapter)
    extra = (max(settings.streams) - 1) * settings.stream_offset
    clip = load_clip(settings.video, settings.start, settings.frames, extra)
    if clip.shape[0] < settings.frames + extra:
        log(
            f"the clip holds {clip.shape[0]} frames from {settings.start}; streams that run past "
            "its end play it backwards"
        )
    report = _start_report(settings, loaded, clip, log)
    clock = Clock(settings.device)
    for size in settings.resolutions:
        frames = prepare(clip, size, dtype=dtype, device=settings.device)
        breakdown = measure_breakdown(loaded.tower, size)
        report.breakdowns.append({"resolution": size, **breakdown.to_dict()})
        features = gate_features(loaded.tower, frames[: settings.frames], settings.gate.signal)
        for gate, target in _gate_points(settings, features):
            k_gate = keep_fraction(features, gate)
            log(f"{size}px: threshold {gate.threshold:.4f} -> clip keep fraction {k_gate:.3f}")
            point = _Point(size, frames, features, breakdown, gate, target, k_gate)
            for streams in settings.streams:
                _time_point(settings, loaded.tower, point, streams, clock, report, log)
    report.meta["load_average_end"] = machine_info(settings.device)["load_average"]
    return report
