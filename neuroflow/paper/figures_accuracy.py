"""The accuracy figures: accuracy vs measured speedup with its Pareto front, top-1 vs compute
(F2) and the threshold x EMA-decay sweep (T6).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuroflow.paper.collect import Collected
from neuroflow.paper.layouts import matched_keep
from neuroflow.paper.plotting import (
    MissingRuns,
    dense_line,
    method_style,
    save,
    skips_missing_runs,
    times_axis,
)

# Pareto points whose timed keep differs more than this (relative) from the accuracy run's.
KEEP_TOLERANCE = 0.25


def pareto_front(x: Sequence[float], y: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both axes (higher is better on both),
    ordered by ``x``; of equal points the first is kept."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    front = []
    for i in range(len(xs)):
        better = (xs >= xs[i]) & (ys >= ys[i]) & ((xs > xs[i]) | (ys > ys[i]))
        twin = (xs == xs[i]) & (ys == ys[i]) & (np.arange(len(xs)) < i)
        if not better.any() and not twin.any():
            front.append(i)
    return sorted(front, key=lambda i: (xs[i], -ys[i]))


def pareto_points(c: Collected) -> tuple[pd.DataFrame, str, str]:
    """The points of :func:`pareto`: ``panel``, ``method``, ``x`` (speedup), ``y`` (top-1 %),
    and the two axis labels.

    From the baselines' accuracy joined with the benchmark run that times the same (method,
    target keep) points, at its largest resolution; a point counts only if the benchmark
    timed a keep within :data:`KEEP_TOLERANCE` of the accuracy run's. Else from evaluation
    runs (their same-process wall-time ratio), dense at 1.

    Raises:
        MissingRuns: Neither kind of run was given.
    """
    found = matched_keep(c)
    columns = [col for col in (found[0] if found else []) if str(col).startswith("speedup_")]
    if found and columns:
        res = max(columns, key=lambda col: int(col.removeprefix("speedup_")))
        frame = found[0].dropna(subset=[res]).reset_index(drop=True)
        timed = frame[res.replace("speedup_", "k_")] / frame["keep"]
        matched = (timed - 1).abs() <= KEEP_TOLERANCE
        frame = frame[matched].assign(x=frame[res], y=100 * frame["clip_acc"])
        xlabel = f"wall-clock speedup vs dense (x, {res.removeprefix('speedup_')} px, {found[1]})"
        if (~matched).any():
            xlabel += f"\n{int((~matched).sum())} points left out: timed keep not within "
            xlabel += f"{KEEP_TOLERANCE:.0%} of the accuracy run's"
        return frame.assign(panel=frame["variant"]), xlabel, "clip top-1 (%)"
    if c.eval is not None and c.eval["walltime_ratio"].notna().any():
        ev = c.eval.dropna(subset=["walltime_ratio"]).reset_index(drop=True)
        first = ev.drop_duplicates("model")
        dense = first.assign(arch="dense", threshold=None, walltime_ratio=1.0)
        dense = dense.assign(sparse_top1=first["dense_top1"])
        frame = pd.concat([dense, ev], ignore_index=True)
        frame = frame.assign(x=frame["walltime_ratio"], y=100 * frame["sparse_top1"])
        theta = frame["threshold"].map(lambda t: "" if pd.isna(t) else f" θ={t:g}")
        frame = frame.assign(method=frame["arch"].astype(str) + theta, panel=frame["model"])
        return frame, "same-process wall-time ratio dense / sparse (x)", "top-1 (%)"
    raise MissingRuns("no baselines with matching benchmark rows and no evaluation runs")


@skips_missing_runs
def pareto(c: Collected, path: Path) -> Path:
    """Accuracy vs wall-clock speedup, one panel per variant (or model), with each panel's
    Pareto front (:func:`pareto_points`)."""
    frame, xlabel, ylabel = pareto_points(c)
    panels = dict(list(frame.groupby("panel", sort=True)))
    methods = sorted(frame["method"].astype(str).unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (title, part) in zip(axes[0], panels.items(), strict=True):
        for name, points in part.groupby("method", sort=True):
            i = methods.index(str(name))
            ax.scatter(points["x"], points["y"], label=name, s=30, **method_style(i))
        front = part.iloc[pareto_front(part["x"], part["y"])]
        ax.plot(
            front["x"],
            front["y"],
            color="black",
            linewidth=1.2,
            marker="o",
            markersize=11,
            markerfacecolor="none",
            label="Pareto front",
        )
        dense_line(ax, horizontal=False)
        ax.set_xscale("log")
        times_axis(ax.xaxis)
        ax.set(title=f"accuracy vs speedup: {title}", xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)


@skips_missing_runs
def sweep_heatmaps(c: Collected, path: Path) -> Path:
    """Retention and skip of evaluation runs over threshold x EMA decay (one model, one arch)."""
    ev = c.eval
    if ev is None or not {"threshold", "ema_decay"} <= set(ev):
        raise MissingRuns("no evaluation runs")
    ev = ev.dropna(subset=["threshold", "ema_decay"])
    groups = [g for _, g in ev.groupby(["model", "arch"], sort=True)]
    grid = max(groups, key=len, default=None)
    if grid is None or grid["threshold"].nunique() < 2 or grid["ema_decay"].nunique() < 2:
        raise MissingRuns("no evaluation sweep over two thresholds and two EMA decays")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"wspace": 0.35})
    for ax, (col, label) in zip(
        axes,
        (("retention", "retention (sparse / dense top-1, %)"), ("skip_rate", "skip rate (%)")),
        strict=True,
    ):
        table = 100 * grid.pivot_table(
            index="ema_decay", columns="threshold", values=col, aggfunc="mean"
        )
        image = ax.imshow(table.to_numpy(), cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns])
        ax.set_yticks(range(table.shape[0]), [f"{v:g}" for v in table.index])
        middle = np.nanmean([np.nanmin(table.to_numpy()), np.nanmax(table.to_numpy())])
        for (i, j), value in np.ndenumerate(table.to_numpy()):
            if np.isfinite(value):  # dark text on the bright end of viridis
                color = "black" if value > middle else "white"
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", color=color, fontsize=8)
        ax.set(xlabel="gate threshold θ", ylabel="EMA decay α", title=label)
        fig.colorbar(image, ax=ax, label="%")
    model, arch = grid["model"].iloc[0], grid["arch"].iloc[0]
    fig.suptitle(f"threshold x EMA-decay sweep: {model}, Arch {arch}")
    return save(fig, path)


@skips_missing_runs
def compute_accuracy(c: Collected, path: Path) -> Path:
    """Top-1 vs the fraction of patch tokens recomputed (F2 layout; cost = 1 - skip)."""
    ev = c.eval[c.eval["arch"] == "C"] if c.eval is not None else None
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    if ev is not None and not ev.empty:
        for model, part in ev.groupby("model", sort=True):
            dense = 100 * part["dense_top1"].iloc[0]
            ax.plot(
                [0, 1],
                [0, dense],
                color="black",
                linestyle="--",
                linewidth=1,
                label=f"dense, linear cost ({model})",
            )
            ax.scatter([1], [dense], color="black", marker="s")
            ax.scatter(1 - part["skip_rate"], 100 * part["sparse_top1"], label=f"Arch C ({model})")
        source = "evaluation runs"
    elif c.baselines is not None:
        base = c.baselines[
            (c.baselines["status"] == "ok") & c.baselines["method"].isin(["dense", "C", "random_C"])
        ]
        for (variant, method), part in base.groupby(["variant", "method"], sort=True):
            part = part.sort_values("keep")
            ax.plot(part["keep"], 100 * part["clip_acc"], marker="o", label=f"{method} ({variant})")
        source = "baselines (moving glyphs)"
    else:
        plt.close(fig)
        raise MissingRuns("no Arch C evaluation runs and no baselines")
    ax.set(
        xlim=(0, 1.05),
        ylim=(0, 102),
        xlabel="tokens recomputed (fraction of dense, 1 - skip)",
        ylabel="top-1 (%)",
        title=f"compute-to-accuracy ratio ({source})",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)
