"""What the paper's figures share: the Agg backend, :class:`MissingRuns` and the decorator
that turns it into a skipped figure, saving, the ``2x`` log axis and one style per method.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from neuroflow.paper.collect import Collected

# Figures are only written to files, also where no display exists (CI, servers). Switching
# after pyplot is imported works as long as no figure is open yet.
matplotlib.use("Agg")

log = logging.getLogger(__name__)

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")
_COLORS = plt.get_cmap("tab20")(np.linspace(0, 1, 20))


def method_style(index: int) -> dict:
    """``color`` and ``marker`` of the ``index``-th method (the same in every panel)."""
    return {"color": _COLORS[index % len(_COLORS)], "marker": MARKERS[index % len(MARKERS)]}


class MissingRuns(Exception):
    """The runs a figure needs were not given (the message says which)."""


def skips_missing_runs(
    draw: Callable[[Collected, Path], Path],
) -> Callable[[Collected, Path], Path | None]:
    """``draw`` returning None, with the reason logged, when it raises :class:`MissingRuns`."""

    @functools.wraps(draw)
    def safe(c: Collected, path: Path) -> Path | None:
        try:
            return draw(c, Path(path))
        except MissingRuns as err:
            log.info("figure %s skipped: %s", Path(path).stem, err)
            return None

    return safe


def save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def times_axis(axis: matplotlib.axis.Axis) -> None:
    """Log-axis ticks at 1, 2, 5 x 10^k written as ``2x`` (not ``2 x 10^0``)."""
    axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    axis.set_minor_formatter(ticker.NullFormatter())


def dense_line(ax: plt.Axes, horizontal: bool = True) -> None:
    line = ax.axhline if horizontal else ax.axvline
    line(1.0, color="black", linestyle="--", linewidth=1, label="dense = 1")
