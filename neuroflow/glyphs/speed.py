"""The speed of every method of a matched-k comparison, from the benchmark harness.

Accuracy is measured on the mini SigLIP (32 px glyph clips); speed on the architecture that
matters for it, SigLIP-B/16 with random weights at 224 px on the benchmark's street clip,
timed by :func:`~neuroflow.bench.suite.run_benchmark` (methods interleaved frame by frame
in one process, so machine load hits all of them alike). Every method runs with the settings
the accuracy comparison matched it with (its gate budget lowered where refreshes add tokens),
and its time is compared with Arch C's at the same target keep fraction. The keep fraction a
method reaches on the street clip is recorded too: refreshes fire on other content there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from neuroflow.archs.registry import parse_spec
from neuroflow.core.gate import GateConfig
from neuroflow.glyphs.baselines import REFERENCE


@dataclass(frozen=True)
class SpeedSettings:
    """Where and how long the methods are timed.

    Attributes:
        enabled: Time the methods at all.
        model: Benchmark model source (``"random:siglip-b16"``: full size, random weights).
        resolution: Square input side in pixels.
        video: Benchmark clip (sample name or video path) and its first frame.
        frames: Timed frames per method (the first is the keyframe after the reset).
        warmup: Untimed frames before the reset.
        round_frames: Frames a method runs back to back per turn.
        variant: Clip variant whose matched settings (gate budget) the timed methods take.
    """

    enabled: bool = False
    model: str = "random:siglip-b16"
    resolution: int = 224
    video: str = "bikes"
    start: int = 60
    frames: int = 16
    warmup: int = 4
    round_frames: int = 4
    variant: str = "moving"


def bench_spec(row: dict) -> str:
    """The benchmark spec of a comparison row: its method with the matched settings inline."""
    name, _ = parse_spec(row["method"])
    settings = ";".join(f"{k}={json.dumps(v)}" for k, v in row["settings"].items())
    return f"{name}:{settings}" if settings else name


def speed_rows(
    rows: Sequence[dict],
    keeps: Sequence[float],
    speed: SpeedSettings,
    gate: GateConfig,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Time every method that ran on ``speed.variant`` at each target keep fraction.

    Args:
        rows: Rows of the accuracy comparison (:func:`neuroflow.glyphs.baselines.compare`).
        keeps: Target keep fractions.
        speed: Benchmark settings.
        gate: Gate settings every gated method shares (EMA decay, floor).
        log: Where progress lines go.

    Returns:
        One row per (keep target, method): median ms per frame, the keep fraction reached on
        the street clip, speedup vs dense, state bytes per stream and ``vs_c``, the ratio of
        its median time to Arch C's (1.15 = 15% slower).
    """
    from neuroflow.bench.suite import BenchSettings, run_benchmark

    out: list[dict] = []
    for keep in keeps:
        done = [
            r
            for r in rows
            if r["variant"] == speed.variant and r["keep_target"] == keep and r["status"] == "ok"
        ]
        specs = {bench_spec(r): r["method"] for r in done}
        settings = BenchSettings(
            model=speed.model,
            resolutions=[speed.resolution],
            video=speed.video,
            start=speed.start,
            methods=["dense", *specs],
            gate=replace(gate, mode="budget", keep_fraction=keep),
            frames=speed.frames,
            warmup=speed.warmup,
            round_frames=speed.round_frames,
            flop_frames=1,
        )
        report = run_benchmark(settings, log=log)
        timed = {r["method"]: r for r in report.rows}
        reference = next((timed[s] for s, m in specs.items() if m == REFERENCE), None)
        for spec, method in specs.items():
            row = timed[spec]
            out.append(
                {
                    "keep_target": keep,
                    "method": method,
                    "bench_keep": row["k"],
                    "ms_median": row["ms_median"],
                    "speedup_vs_dense": row["speedup"],
                    "state_bytes_per_stream": row["state_bytes_per_stream"],
                    "vs_c": row["ms_median"] / reference["ms_median"] if reference else None,
                    "device": report.meta.get("gpu") or report.meta.get("cpu"),
                    "model": report.meta.get("model"),
                    "resolution": speed.resolution,
                }
            )
    return out
