"""Figures of a benchmark report: speedup vs resolution, latency percentiles, speedup vs k."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuroflow.bench.ceiling import ceiling  # noqa: E402
from neuroflow.bench.flops import FlopBreakdown  # noqa: E402
from neuroflow.bench.suite import BenchReport  # noqa: E402


def _single_stream(report: BenchReport) -> list[dict[str, Any]]:
    least = min(r["streams"] for r in report.rows)
    return [r for r in report.rows if r["streams"] == least]


def speedup_vs_resolution(report: BenchReport, path: Path) -> Path:
    """Median speedup against dense per method, over resolution (fewest streams)."""
    rows = _single_stream(report)
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(r["method"] for r in rows if r["method"] != "dense"):
        mine = sorted((r["resolution"], r["speedup"]) for r in rows if r["method"] == method)
        ax.plot(*zip(*mine, strict=True), marker="o", label=method)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="input side (px)", ylabel="speedup vs dense (median)", title="speedup vs resolution"
    )
    ax.legend(fontsize=8)
    return _save(fig, path)


def latency_percentiles(report: BenchReport, path: Path) -> Path:
    """Box per method and resolution: P25-P75 box, P5-P95 whiskers, median line."""
    rows = _single_stream(report)
    sizes = sorted({r["resolution"] for r in rows})
    fig, axes = plt.subplots(1, len(sizes), figsize=(4 * len(sizes), 4), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        mine = [r for r in rows if r["resolution"] == size]
        stats = [
            {
                "label": r["method"],
                "med": r["ms_median"],
                "q1": r["ms_p25"],
                "q3": r["ms_p75"],
                "whislo": r["ms_p5"],
                "whishi": r["ms_p95"],
            }
            for r in mine
        ]
        ax.bxp(stats, showfliers=False)
        ax.set(title=f"{size}px", ylabel="latency per frame (ms)")
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return _save(fig, path)


def speedup_vs_k(report: BenchReport, path: Path) -> Path:
    """Measured speedups against k, with the ceilings S(k) of B and C per resolution."""
    rows = _single_stream(report)
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = np.linspace(0.02, 1.0, 200)
    names = {f.name for f in fields(FlopBreakdown)}
    for entry in report.breakdowns:
        bd = FlopBreakdown(**{k: v for k, v in entry.items() if k in names})
        size = entry["resolution"]
        for kind, style in (("B", "-"), ("C", "--")):  # registered method names
            ax.plot(
                ks,
                [ceiling(bd, k, kind) for k in ks],
                ls=style,
                lw=1,
                label=f"S(k) {kind} {size}px",
            )
    for method in dict.fromkeys(r["method"] for r in rows if r["method"] != "dense"):
        pts = [(r["k_median"], r["speedup"]) for r in rows if r["method"] == method]
        ax.scatter(*zip(*pts, strict=True), s=18, label=method, zorder=3)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="keep fraction k (median over frames)",
        ylabel="speedup vs dense",
        title="speedup vs k against the FLOP ceiling",
    )
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_plots(report: BenchReport, out_dir: str | Path) -> list[Path]:
    """Write the three figures into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        speedup_vs_resolution(report, out / "speedup_vs_resolution.png"),
        latency_percentiles(report, out / "latency_percentiles.png"),
        speedup_vs_k(report, out / "speedup_vs_k.png"),
    ]
