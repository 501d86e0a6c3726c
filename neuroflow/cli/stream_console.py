"""What ``neuroflow-stream`` shows on the terminal: a progress bar per stream, a summary table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from neuroflow.stream.inputs import StreamSource


class Bars:
    """One rich progress bar per stream (total known when the input says its length).

    Args:
        sources: The streams.
        max_frames: The run's frame limit per stream (None: none).
        stride: The run's frame stride.
    """

    def __init__(
        self, sources: Sequence[StreamSource], max_frames: int | None, stride: int
    ) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        )
        self.tasks = {}
        for source in sources:
            total = None if source.frames is None else math.ceil(source.frames / stride)
            if max_frames is not None:
                total = max_frames if total is None else min(total, max_frames)
            self.tasks[source.name] = self.progress.add_task(source.name, total=total)

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, name: str, done: int) -> None:
        """Stream ``name`` has processed ``done`` frames."""
        self.progress.update(self.tasks[name], completed=done)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def print_streams(report: Any, method: str, run_dir: Path) -> None:
    """The per-stream summary table, the skipped inputs and where the files went."""
    table = Table(title=f"neuroflow-stream: Arch {method}, {len(report.streams)} stream(s)")
    for column in ("stream", "frames", "keep", "keep after 1st", "time share", "state", "ended"):
        table.add_column(column)
    for row in report.streams:
        table.add_row(
            row["stream"],
            str(row["frames"]),
            _fmt(row["keep_fraction"], ".3f"),
            _fmt(row["steady_keep_fraction"], ".3f"),
            _fmt(row["time_share"], ".2f"),
            f"{row['state_bytes'] / 2**20:.2f} MiB",
            row["ended"],
        )
    console = Console(width=max(120, Console().width))
    console.print(table)
    for record in report.skipped:
        console.print(f"skipped {record['clip_id']}: {record['reason']}")
    console.print(f"run directory: {run_dir}")
