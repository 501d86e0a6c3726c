"""The paper's figures from the collected runs (matplotlib, Agg backend), one file each.

Each figure function (:mod:`~neuroflow.paper.figures_accuracy`,
:mod:`~neuroflow.paper.figures_speed`) takes the collected runs and an output path and returns
the path, or None (with the reason logged) when the runs it needs were not given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from neuroflow.paper.collect import Collected
from neuroflow.paper.figures_accuracy import compute_accuracy, pareto, sweep_heatmaps
from neuroflow.paper.figures_speed import speed_fidelity, tome_comparison
from neuroflow.paper.plotting import MissingRuns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FigureSpec:
    """One figure: file stem, the paper item it stands for, what it shows, how it is drawn."""

    name: str
    item: str
    shows: str
    draw: Callable[[Collected, Path], Path | None]


FIGURES = (
    FigureSpec(
        "F1_speed_fidelity",
        "F1",
        "Speedup (left) and fidelity (right) vs input resolution per method, as in the teaser.",
        speed_fidelity,
    ),
    FigureSpec(
        "F2_compute_accuracy",
        "F2",
        "Top-1 vs the share of tokens recomputed, against the dense model's linear-cost line.",
        compute_accuracy,
    ),
    FigureSpec(
        "F3_tome_comparison",
        "F3",
        "Speedup vs resolution per method on a log axis, one panel per target keep.",
        tome_comparison,
    ),
    FigureSpec(
        "pareto_accuracy_speedup",
        "F2",
        "Accuracy vs measured speedup at matched keep for every method, with the Pareto front.",
        pareto,
    ),
    FigureSpec(
        "sweep_heatmaps",
        "T6",
        "Retention and skip rate over the threshold x EMA-decay sweep.",
        sweep_heatmaps,
    ),
)


def draw_all(c: Collected, out_dir: str | Path) -> dict[str, Path | str]:
    """Draw every figure the runs allow into ``out_dir``.

    Returns:
        ``{name: path}`` for each figure drawn, ``{name: reason}`` for each one skipped.
    """
    out: dict[str, Path | str] = {}
    for spec in FIGURES:
        path = Path(out_dir) / f"{spec.name}.png"
        try:
            # Undecorated, a figure raises MissingRuns: its message is what the report shows.
            out[spec.name] = spec.draw.__wrapped__(c, path)
        except MissingRuns as err:
            log.info("figure %s skipped: %s", spec.name, err)
            out[spec.name] = str(err)
    return out
