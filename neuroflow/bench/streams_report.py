"""Rows, terminal tables and figures of the multi-stream benchmark (:mod:`neuroflow.bench.streams`).

A row is one (stream count, method): stream-frames per second, tick latency, state per stream,
the per-stream keep fractions and whether each meets the target, the speedup over the dense
batch of the same run and its share of the FLOP ceiling ``S(k)`` at the measured mean k.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.table import Table

from neuroflow.bench.ceiling import ceiling
from neuroflow.bench.flops import FlopBreakdown
from neuroflow.bench.methods import BenchMethod
from neuroflow.bench.report import header, rows_table
from neuroflow.bench.runner import MethodRun

if TYPE_CHECKING:
    from neuroflow.bench.stream_methods import Calibration
    from neuroflow.bench.streams import StreamBenchReport

DENSE = "dense_batched"
COLUMNS = (
    "streams",
    "method",
    "fps",
    "tick ms",
    "P95 ms",
    "speedup",
    "S(k)",
    "of S",
    "vs loop",
    "k mean",
    "k min-max",
    "k std",
    "all in tol",
    "state/stream",
)


def within_key(tolerance: float) -> str:
    """Row key of the flag "every stream's mean k is within ``tolerance`` of the target"."""
    return f"k_within_{tolerance:g}"


def stream_keep(run: MethodRun) -> np.ndarray:
    """Mean steady-state keep fraction of every stream, ``[S]`` (keyframe excluded)."""
    return np.asarray(run.keep_streams, dtype=np.float64).mean(axis=0)


def fps(run: MethodRun, streams: int) -> float:
    """Stream-frames per second at the median tick latency."""
    return streams * 1e3 / run.stats.median


def make_rows(
    runs: Mapping[str, MethodRun],
    methods: Mapping[str, BenchMethod],
    bd: FlopBreakdown,
    context: Mapping[str, Any],
    tolerance: float,
    plan: Calibration,
) -> list[dict[str, Any]]:
    """One row per method; speedups against ``dense_batched``, ratios against the loop."""
    streams = int(context["streams"])
    dense_ms = runs[DENSE].stats.median
    loop = next((n for n in runs if n.startswith("loop_")), None)
    loop_fps = fps(runs[loop], streams) if loop else None
    target = float(context["target_keep"])
    rows = []
    for name, run in runs.items():
        stats, per_stream = run.stats, stream_keep(run)
        k, gated = float(per_stream.mean()), name != DENSE
        # The measured mean k of this very run, not the calibration's prediction.
        limit = ceiling(bd, min(k, 1.0), methods[name].cost_model) if gated else 1.0
        speedup = dense_ms / stats.median
        size = getattr(methods[name], "state_bytes", None)
        rate = fps(run, streams)
        rows.append(
            {
                **context,
                "method": name,
                "fps": rate,
                "fps_mean": streams * 1e3 / stats.mean,
                **stats.to_dict("ms_"),
                "first_frame_ms": run.first_frame * 1e3,
                "k": k,
                "k_streams": per_stream.tolist(),
                "k_min": float(per_stream.min()),
                "k_max": float(per_stream.max()),
                "k_std": float(per_stream.std()),
                within_key(tolerance): (
                    bool(np.all(np.abs(per_stream - target) <= tolerance)) if gated else None
                ),
                "k_tolerance": tolerance,
                "thresholds": list(plan.thresholds) if gated else None,
                "speedup": speedup,
                "ceiling": limit,
                "of_ceiling": speedup / limit,
                "fps_vs_loop": rate / loop_fps if loop_fps else None,
                "state_bytes_per_stream": float(size()) if callable(size) else 0.0,
            }
        )
    return rows


def calibration_rows(
    plan: Calibration, engine: MethodRun, context: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Per stream: its threshold, the gate-only k predicted for it and the engine's k."""
    measured = stream_keep(engine)
    return [
        {
            **context,
            "stream": s,
            "threshold": plan.thresholds[s],
            "predicted_k": plan.predicted[s],
            "measured_k": float(measured[s]),
        }
        for s in range(len(plan.thresholds))
    ]


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def row_cells(row: Mapping[str, Any]) -> list[str]:
    """Formatted cells of one row, in :data:`COLUMNS` order."""
    flag = row.get(within_key(row["k_tolerance"]))
    return [
        str(row["streams"]),
        row["method"],
        f"{row['fps']:.1f}",
        f"{row['ms_median']:.1f}",
        f"{row['ms_p95']:.1f}",
        _ratio(row["speedup"]),
        _ratio(row["ceiling"]),
        f"{row['of_ceiling']:.2f}",
        _ratio(row["fps_vs_loop"]),
        f"{row['k']:.3f}",
        f"{row['k_min']:.3f}-{row['k_max']:.3f}",
        f"{row['k_std']:.3f}",
        "-" if flag is None else ("yes" if flag else "NO"),
        _size(row["state_bytes_per_stream"]),
    ]


def results_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """A rich table of result rows."""
    caption = (
        "fps = stream-frames/s at the median tick; speedup = dense_batched / method median "
        "tick; S(k) = FLOP ceiling at the measured mean k; of S = speedup / S(k); vs loop = "
        "fps / fps of the one-stream-at-a-time loop; k = steady-state keep fraction per stream"
    )
    return rows_table(title, COLUMNS, [row_cells(r) for r in rows], caption)


def print_report(report: StreamBenchReport, console: Console | None = None) -> None:
    """Print the header, the results table and the engine-vs-loop check."""
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    meta = report.meta
    console.print(header(meta))
    title = (
        f"{meta['model']} {meta['resolution']}px, arch {meta['arch']}, target k="
        f"{meta['target_keep']} ({meta['calibration']} calibration)"
    )
    console.print(results_table(report.rows, title))
    for check in meta.get("verify", []):
        console.print(
            f"engine vs loop, {check['streams']} stream(s), first {check['ticks']} ticks: max "
            f"|embedding diff| {check['max_abs_diff']:.2e}, keep fractions equal: "
            f"{check['keep_equal']}"
        )


def _pyplot() -> Any:
    # Imported on first plot: the CLI schemas import the settings, and so this module.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fps_vs_streams(report: StreamBenchReport, path: Path) -> Path:
    """Stream-frames per second against the stream count, one line per method."""
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    for method in dict.fromkeys(r["method"] for r in report.rows):
        points = sorted((r["streams"], r["fps"]) for r in report.rows if r["method"] == method)
        ax.plot(*zip(*points, strict=True), marker="o", label=method)
    ax.set(xlabel="concurrent streams", ylabel="stream-frames per second", title="throughput")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
    return _save(fig, path)


def k_spread(report: StreamBenchReport, path: Path) -> Path:
    """Each stream's measured k (engine) per stream count, with the target and its band."""
    meta = report.meta
    target, tol = float(meta["target_keep"]), float(meta["k_tolerance"])
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    ax.axhspan(target - tol, target + tol, color="green", alpha=0.15, label=f"target ±{tol:g}")
    ax.axhline(target, color="green", lw=1)
    for key, marker in (("measured_k", "o"), ("predicted_k", "x")):
        xs = [r["streams"] for r in report.calibration]
        ys = [r[key] for r in report.calibration]
        ax.scatter(xs, ys, marker=marker, s=20, label=key.replace("_", " "), zorder=3)
    ax.set(
        xlabel="concurrent streams",
        ylabel="steady-state keep fraction per stream",
        title=f"per-stream k ({meta['calibration']} calibration)",
    )
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def save_plots(report: StreamBenchReport, out_dir: str | Path) -> list[Path]:
    """Write both figures into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        fps_vs_streams(report, out / "fps_vs_streams.png"),
        k_spread(report, out / "k_spread.png"),
    ]
