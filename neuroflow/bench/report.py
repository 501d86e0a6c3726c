"""The benchmark's terminal output: a rich table per stream count plus the gate overhead."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from neuroflow.bench.suite import BenchReport

COLUMNS = (
    "res",
    "N",
    "streams",
    "method",
    "k mean",
    "k med",
    "median ms",
    "P5-P95 ms",
    "speedup",
    "S(k med)",
    "speedup/S",
    "mean/S",
    "per-frame",
    "GFLOP/frame",
    "state/stream",
)


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


def row_cells(row: dict[str, Any]) -> list[str]:
    """Formatted cells of one result row, in :data:`COLUMNS` order."""
    return [
        str(row["resolution"]),
        str(row["tokens"]),
        str(row["streams"]),
        row["method"],
        f"{row['k']:.3f}",
        f"{row['k_median']:.3f}",
        f"{row['ms_median']:.1f}",
        f"{row['ms_p5']:.1f}-{row['ms_p95']:.1f}",
        f"{row['speedup']:.2f}x",
        f"{row['ceiling']:.2f}x",
        f"{row['of_ceiling']:.2f}",
        f"{row['of_ceiling_mean']:.2f}",
        f"{row['of_ceiling_paired']:.2f}",
        f"{row['gflops']:.2f}",
        _bytes(row["state_bytes_per_stream"]),
    ]


def results_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    """A rich table of result rows (three estimates of the ceiling share, see the caption)."""
    caption = (
        "speedup = median dense ms / median method ms; S = FLOP ceiling; speedup/S uses the "
        "median k, mean/S the mean latencies and mean FLOPs, per-frame the median of "
        "speedup_t / S(k_t)"
    )
    return rows_table(title, COLUMNS, [row_cells(r) for r in rows], caption)


def rows_table(
    title: str, columns: Sequence[str], cells: Sequence[Sequence[str]], caption: str
) -> Table:
    """A rich table of benchmark rows: the method column left-aligned, numbers right."""
    table = Table(title=title, caption=caption)
    for col in columns:
        table.add_column(col, justify="left" if col == "method" else "right")
    for row in cells:
        table.add_row(*row)
    return table


def gate_table(rows: Sequence[dict[str, Any]]) -> Table:
    """Gate overhead per resolution: µs per frame and share of the dense frame."""
    table = Table(title="retinal gate overhead (median per frame)")
    for col in ("res", "streams", "gate us", "dense ms", "share of dense"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(
            str(row["resolution"]),
            str(row["streams"]),
            f"{row['gate_us']:.0f}",
            f"{row['dense_ms']:.1f}",
            f"{100 * row['gate_share']:.3f} %",
        )
    return table


def header(meta: dict[str, Any]) -> str:
    """One line saying what the numbers were measured on."""
    weights = "RANDOM WEIGHTS (timing only)" if meta.get("random_weights") else "trained weights"
    busy = " | MACHINE BUSY AT START: numbers skewed" if meta.get("busy_at_start") else ""
    return (
        f"{meta['model']} | {weights} | {meta['device']} {meta['cpu']} x{meta['cpu_count']} | "
        f"torch {meta['torch']} threads {meta['torch_threads']} | {meta['dtype']} | "
        f"clip {meta['video']} ({meta['clip_frames']} frames, warm-up {meta['warmup']}, "
        f"methods take turns in rounds of {meta.get('round_frames')} frames) | "
        f"load avg {meta.get('load_average')} -> {meta.get('load_average_end')}{busy}"
    )


def print_report(report: BenchReport, console: Console | None = None) -> None:
    """Print the header, one table per (stream count, target) and the gate overhead."""
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    console.print(header(report.meta))
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in report.rows:
        groups.setdefault((row["streams"], row.get("target_keep")), []).append(row)
    for (streams, target), rows in groups.items():
        goal = f", target k={target}" if target is not None else ""
        console.print(
            results_table(rows, f"{streams} stream(s){goal}: speedup vs dense of the same run")
        )
    for miss in report.meta.get("unreachable", []):
        console.print(
            f"left out: {miss['method']} at {miss['resolution']}px, k={miss['keep_fraction']:.3f}"
            f" ({miss['reason']})"
        )
    if report.gate:
        console.print(gate_table(report.gate))
