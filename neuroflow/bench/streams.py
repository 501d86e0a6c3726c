"""Multi-stream benchmark of :class:`~neuroflow.stream.StreamEngine` (``neuroflow-bench-streams``).

For each stream count ``S`` three ways of serving ``S`` camera streams are timed in one
process, frame-interleaved in rounds (:func:`~neuroflow.bench.runner.run_interleaved`):

- ``engine``: one :class:`StreamEngine` over the sparse architecture; every tick packs the
  active tokens of all streams into one encoder call;
- ``dense_batched``: the dense architecture on the ``[S, 3, H, W]`` batch (the reference of
  every speedup);
- ``loop_<arch>``: the same sparse architecture run one stream at a time (``S`` batch-1 states,
  ``S`` calls per tick), with the same per-stream thresholds: what packing saves.

Every stream's keep fraction must meet the target, or the comparison says nothing about the
working point: with ``calibration="per_stream"`` each stream gets the threshold searched on its
own frames (:func:`~neuroflow.core.threshold_search.search_threshold`); ``"controller"`` lets
the engine steer each stream to the target (starting from the shared threshold);
``"shared"`` searches one threshold on stream 0 for all (the spread it leaves is the reason
for the other two). Engine variants (``engine_variants``) time the engine again under a
process-wide setting such as the masked attention backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import torch
from torch import Tensor

from neuroflow.archs import Architecture, make_arch
from neuroflow.bench.flops import FlopBreakdown, measure_breakdown
from neuroflow.bench.frames import load_clip, prepare, stream_batches
from neuroflow.bench.machine import machine_info
from neuroflow.bench.methods import ArchMethod, BenchMethod
from neuroflow.bench.registry import build_tower
from neuroflow.bench.runner import run_interleaved
from neuroflow.bench.stream_methods import Calibration, EngineMethod, LoopMethod, variant_context
from neuroflow.bench.streams_report import calibration_rows, make_rows
from neuroflow.bench.suite import machine_busy
from neuroflow.bench.timing import Clock
from neuroflow.core.gate import GateConfig
from neuroflow.core.threshold_search import gate_features, keep_fraction, search_threshold
from neuroflow.models.dtypes import parse_dtype
from neuroflow.models.tower import VisionTower

CalibrationMode = Literal["per_stream", "controller", "shared"]
CALIBRATIONS = ("per_stream", "controller", "shared")


@dataclass
class StreamBenchSettings:
    """Everything a multi-stream benchmark run depends on (``conf/bench_streams.yaml``).

    Attributes:
        model: ``"random:siglip-b16"`` (full size, random weights), ``"tiny-siglip"``, ...
        adapter: A distilled adapter file (``neuroflow-distill``) merged into the tower.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        device: ``"cpu"`` or ``"cuda"``.
        threads: ``torch.set_num_threads`` value (None: torch's default).
        video: Sample clip name or video path.
        start: First clip frame.
        frames: Ticks timed per method (the first, the keyframe, is left out).
        warmup: Untimed warm-up ticks before every stream is reset.
        round_frames: Ticks a method runs back to back before the next takes its turn.
        resolution: Square input side.
        streams: Concurrent stream counts.
        stream_offset: Clip frames between the starts of consecutive streams.
        arch: The sparse architecture the engine and the loop run (a gated method).
        gate: Gate settings (its threshold is replaced by the calibration).
        target_keep: Steady-state keep fraction every stream must reach.
        calibration: ``"per_stream"``, ``"controller"`` or ``"shared"`` (see module doc).
        k_tolerance: A stream meets the target when its mean k is within this of it.
        loop: Also time the one-stream-at-a-time loop.
        engine_variants: Extra engine rows under a setting (:data:`VARIANTS` names).
        verify_ticks: Ticks on which engine and loop embeddings are compared (0: none).
        seed: Seed of the random weights and of the round order.
    """

    model: str = "random:siglip-b16"
    adapter: str | None = None
    dtype: str = "float32"
    device: str = "cpu"
    threads: int | None = None
    video: str = "bikes"
    start: int = 60
    frames: int = 32
    warmup: int = 4
    round_frames: int = 8
    resolution: int = 224
    streams: list[int] = field(default_factory=lambda: [1, 4, 8, 16])
    stream_offset: int = 16
    arch: str = "C"
    gate: GateConfig = field(default_factory=GateConfig)
    target_keep: float = 0.17
    calibration: CalibrationMode = "per_stream"
    k_tolerance: float = 0.02
    loop: bool = True
    engine_variants: list[str] = field(default_factory=list)
    verify_ticks: int = 3
    seed: int = 0


@dataclass
class StreamBenchReport:
    """Everything a run measured.

    Attributes:
        meta: Machine, software, model, clip and verification facts.
        rows: One dict per (stream count, method).
        calibration: One dict per (stream count, stream): threshold, predicted and measured k.
        breakdown: Dense FLOP breakdown of the tower at the resolution.
        samples: Per-tick latencies (ms) and per-stream keep fractions behind every row.
    """

    meta: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    calibration: list[dict[str, Any]] = field(default_factory=list)
    breakdown: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def check_settings(settings: StreamBenchSettings) -> None:
    """Raise ``ValueError`` naming the first setting the benchmark cannot run with."""
    if settings.calibration not in CALIBRATIONS:
        raise ValueError(
            f"calibration must be one of {', '.join(CALIBRATIONS)}, got {settings.calibration!r}"
        )
    if settings.gate.mode != "threshold":
        raise ValueError("the stream benchmark calibrates thresholds: it needs gate.mode=threshold")
    if not 0.0 < settings.target_keep <= 1.0:
        raise ValueError(f"target_keep must lie in (0, 1], got {settings.target_keep}")
    if not settings.streams or min(settings.streams) < 1:
        raise ValueError(f"streams must be positive counts, got {settings.streams}")
    if settings.frames < 2:
        raise ValueError(
            f"frames must be >= 2 (a keyframe and a timed tick), got {settings.frames}"
        )
    for name in settings.engine_variants:
        variant_context(name)  # an unknown or unavailable variant fails before any timing


class _Calibrator:
    """Per-stream thresholds for the target, searched once per stream and reused.

    Stream ``s`` reads the same frames at every stream count (its offset is ``s *
    stream_offset``), so its threshold does not depend on how many streams run beside it.
    """

    def __init__(self, settings: StreamBenchSettings, tower: VisionTower, frames: Tensor):
        self.settings, self.tower, self.frames = settings, tower, frames
        self._features: dict[int, Tensor] = {}
        self._searched: dict[int, tuple[float, float]] = {}

    def features(self, stream: int) -> Tensor:
        """Gate features ``[T, N, D]`` of stream ``stream`` over the timed ticks."""
        if stream not in self._features:
            s = self.settings
            ticks = stream_batches(self.frames, stream + 1, s.frames, s.stream_offset)
            own = torch.stack([batch[stream] for batch in ticks])
            self._features[stream] = gate_features(self.tower, own, s.gate.signal)
        return self._features[stream]

    def search(self, stream: int) -> tuple[float, float]:
        """``(threshold, k)`` that meets the target on the stream's own frames."""
        if stream not in self._searched:
            gate, target = self.settings.gate, float(self.settings.target_keep)
            self._searched[stream] = search_threshold(self.features(stream), gate, target)
        return self._searched[stream]

    def plan(self, streams: int) -> Calibration:
        """The calibration of ``streams`` streams under the configured mode."""
        mode, gate = self.settings.calibration, self.settings.gate
        if mode == "per_stream":
            thresholds = [self.search(s)[0] for s in range(streams)]
        else:  # shared, and the controller's starting point: stream 0's threshold for all
            thresholds = [self.search(0)[0]] * streams
        predicted = [
            keep_fraction(self.features(s), replace(gate, threshold=t))
            for s, t in enumerate(thresholds)
        ]
        target = float(self.settings.target_keep) if mode == "controller" else None
        return Calibration(thresholds, predicted, target)


def build_stream_methods(
    settings: StreamBenchSettings, arch: Architecture, plan: Calibration
) -> dict[str, BenchMethod]:
    """The timed methods of one stream count: dense first, the engine(s), the loop."""
    methods: dict[str, BenchMethod] = {
        "dense_batched": ArchMethod(make_arch("dense", arch.tower), "dense_batched"),
        "engine": EngineMethod(arch, plan),
    }
    for variant in dict.fromkeys(settings.engine_variants):
        name = f"engine+{variant}"
        methods[name] = EngineMethod(arch, plan, name, lambda v=variant: variant_context(v))
    if settings.loop:
        methods[f"loop_{arch.name}"] = LoopMethod(arch, plan)
    return methods


def verify(engine: EngineMethod, loop: LoopMethod, batches: list[Tensor]) -> dict[str, Any]:
    """Largest embedding difference of engine and loop on the same fresh ticks."""
    streams = batches[0].shape[0]
    packed, alone = engine.new_state(streams), loop.new_state(streams)
    diff, same_keep = 0.0, True
    with torch.inference_mode():
        for batch in batches:
            keep_e, emb_e = engine.step(batch, packed)
            keep_l, emb_l = loop.step(batch, alone)
            diff = max(diff, float((emb_e.float() - emb_l.float()).abs().max()))
            same_keep = same_keep and keep_e.tolist() == keep_l.float().tolist()
    return {
        "streams": streams,
        "ticks": len(batches),
        "max_abs_diff": diff,
        "keep_equal": same_keep,
    }


def _start_report(settings: StreamBenchSettings, label: str, random_weights: bool, tokens: int):
    info = machine_info(settings.device, parse_dtype(settings.dtype))
    meta = {
        **info,
        "device_name": info.get("gpu") or info["cpu"],
        "model": label,
        "random_weights": random_weights,
        "resolution": settings.resolution,
        "tokens": tokens,
        "video": str(settings.video),
        "clip_start": settings.start,
        "clip_frames": settings.frames,
        "warmup": settings.warmup,
        "round_frames": settings.round_frames,
        "stream_offset": settings.stream_offset,
        "arch": settings.arch,
        "gate": asdict(settings.gate),
        "target_keep": settings.target_keep,
        "calibration": settings.calibration,
        "k_tolerance": settings.k_tolerance,
        "verify": [],
    }
    meta["busy_at_start"] = machine_busy(meta)
    return StreamBenchReport(meta=meta)


def run_stream_benchmark(
    settings: StreamBenchSettings, log: Callable[[str], None] = print
) -> StreamBenchReport:
    """Run the multi-stream benchmark described by ``settings``.

    Raises:
        ValueError: A setting the benchmark cannot run with (see :func:`check_settings`).
    """
    check_settings(settings)
    if settings.threads:
        torch.set_num_threads(int(settings.threads))
    dtype = parse_dtype(settings.dtype)
    loaded = build_tower(settings.model, dtype, settings.device, settings.seed, settings.adapter)
    extra = (max(settings.streams) - 1) * settings.stream_offset
    clip = load_clip(settings.video, settings.start, settings.frames, extra)
    frames = prepare(clip, settings.resolution, dtype=dtype, device=settings.device)
    bd = measure_breakdown(loaded.tower, settings.resolution)
    report = _start_report(settings, loaded.label, loaded.random_weights, bd.num_patches)
    report.breakdown = bd.to_dict()
    if report.meta["busy_at_start"]:
        log(
            f"warning: the machine is busy before the run (load {report.meta['load_average']} "
            f"on {report.meta['cpu_count']} cores): absolute times and speedups are skewed"
        )
    arch = make_arch(settings.arch, loaded.tower, gate=settings.gate)
    calibrator = _Calibrator(settings, loaded.tower, frames)
    clock = Clock(settings.device)
    for streams in settings.streams:
        plan = calibrator.plan(streams)
        _time_point(settings, arch, plan, frames, bd, clock, report, log)
    report.meta["load_average_end"] = machine_info(settings.device)["load_average"]
    return report


def _time_point(
    settings: StreamBenchSettings,
    arch: Architecture,
    plan: Calibration,
    frames: Tensor,
    bd: FlopBreakdown,
    clock: Clock,
    report: StreamBenchReport,
    log: Callable[[str], None],
) -> None:
    """Time every method at one stream count; add its rows, calibration and samples."""
    streams = len(plan.thresholds)
    batches = stream_batches(frames, streams, settings.frames, settings.stream_offset)
    methods = build_stream_methods(settings, arch, plan)
    log(
        f"{streams} stream(s): thresholds {min(plan.thresholds):.4f}..{max(plan.thresholds):.4f}"
        f"; timing {', '.join(methods)} over {len(batches)} ticks"
    )
    loop = methods.get(f"loop_{arch.name}")
    if settings.verify_ticks > 0 and isinstance(loop, LoopMethod):
        engine = methods["engine"]
        assert isinstance(engine, EngineMethod)
        report.meta["verify"].append(verify(engine, loop, batches[: settings.verify_ticks]))
    runs = run_interleaved(
        methods,
        batches,
        warmup=settings.warmup,
        clock=clock,
        round_frames=settings.round_frames,
        seed=settings.seed,
    )
    context = {
        "resolution": settings.resolution,
        "tokens": bd.num_patches,
        "streams": streams,
        "arch": arch.name,
        "target_keep": settings.target_keep,
        "calibration": settings.calibration,
    }
    report.rows += make_rows(runs, methods, bd, context, settings.k_tolerance, plan)
    report.calibration += calibration_rows(plan, runs["engine"], context)
    report.samples += [
        {**context, "method": n, "ms": [x * 1e3 for x in r.seconds], "keep": r.keep_streams}
        for n, r in runs.items()
    ]
