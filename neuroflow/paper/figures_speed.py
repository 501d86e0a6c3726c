"""The speed figures: speedup and fidelity vs resolution (F1) and NeuroFlow vs ToMe (F3)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from neuroflow.paper.collect import Collected
from neuroflow.paper.plotting import (
    MissingRuns,
    dense_line,
    method_style,
    save,
    skips_missing_runs,
    times_axis,
)


def _fidelity_by_resolution(c: Collected) -> pd.DataFrame:
    """Fidelity of evaluation runs that set the input size: method, resolution, fidelity."""
    rows = []
    for run in c.of_kind("eval"):
        identity = run.data.get("identity") or {}
        size = (identity.get("model") or {}).get("image_size")
        if size and run.data.get("fidelity") is not None:
            method = (identity.get("method") or {}).get("name")
            rows.append(
                {"method": method, "resolution": int(size), "fidelity": run.data["fidelity"]}
            )
    return pd.DataFrame(rows, columns=["method", "resolution", "fidelity"])


def _series(bench: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Benchmark rows by ``model method (target k)``, each sorted by resolution."""
    bench = bench[bench["method"] != "dense"].reset_index(drop=True)
    bench = bench.assign(_k=bench["target_keep"])
    several = bench["model"].nunique() > 1
    out = {}
    for (model, method, k), part in bench.groupby(
        ["model", "method", "_k"], sort=True, dropna=False
    ):
        name = f"{method} k={k:g}" if pd.notna(k) else str(method)
        out[f"{name} ({model})" if several else name] = part.sort_values("resolution")
    return out


@skips_missing_runs
def speed_fidelity(c: Collected, path: Path) -> Path:
    """Speedup (left axis) and fidelity (right axis) vs resolution: the F1 layout."""
    if c.bench is None or c.bench["resolution"].nunique() < 2:
        raise MissingRuns("no benchmark run at two or more resolutions")
    bench = c.bench[c.bench["method"].astype(str).str.startswith(("B", "C"))]
    if bench.empty:
        raise MissingRuns("no Arch B or C benchmark rows")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, part in _series(bench).items():
        ax.plot(part["resolution"], part["speedup"], marker="o", label=f"speedup {name}")
    dense_line(ax)
    ax.set_xscale("log", base=2)
    ticks = sorted(bench["resolution"].unique())
    ax.set_xticks(ticks, [f"{int(t)}" for t in ticks])
    ax.set(xlabel="input resolution (px, square)", ylabel="wall-clock speedup vs dense (x)")
    fidelity = _fidelity_by_resolution(c)
    title = "speedup and fidelity vs resolution"
    if not fidelity.empty:
        right = ax.twinx()
        for method, part in fidelity.groupby("method", sort=True):
            part = part.sort_values("resolution")
            right.plot(
                part["resolution"],
                100 * part["fidelity"],
                linestyle=":",
                marker="^",
                label=f"fidelity {method}",
            )
        right.set_ylabel("embedding fidelity (%, cos to dense)")
        right.legend(fontsize=7, loc="lower right")
    else:
        title += " (no evaluation run sets the input size: fidelity not shown)"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return save(fig, path)


@skips_missing_runs
def tome_comparison(c: Collected, path: Path) -> Path:
    """Speedup vs resolution per method on a log axis, one panel per model and target keep
    (the F3 layout; one colour per method in every panel)."""
    if c.bench is None or not c.bench["method"].astype(str).str.contains("tome").any():
        raise MissingRuns("no benchmark rows of a ToMe method")
    bench = c.bench.reset_index(drop=True)
    bench = bench[bench["method"] != "dense"].assign(_k=bench["target_keep"].fillna(-1))
    panels = dict(list(bench.groupby(["model", "_k"], sort=True)))
    methods = sorted(bench["method"].astype(str).unique())
    size = (4.5 * len(panels), 4.2)
    fig, axes = plt.subplots(1, len(panels), figsize=size, squeeze=False, sharey=True)
    handles = {}
    for ax, ((model, k), part) in zip(axes[0], panels.items(), strict=True):
        # Resolutions as evenly spaced categories, as in the paper's figure.
        position = {res: i for i, res in enumerate(sorted(part["resolution"].unique()))}
        for method, series in part.groupby("method", sort=True):
            series = series.sort_values("resolution")
            style = method_style(methods.index(str(method)))
            (line,) = ax.plot(series["resolution"].map(position), series["speedup"], **style)
            handles.setdefault(str(method), line)
        ax.set_xticks(list(position.values()), [f"{int(r)}" for r in position])
        handles["dense = 1"] = ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        times_axis(ax.yaxis)
        target = "gate threshold as set" if k < 0 else f"target keep k = {k:g}"
        ax.set(title=f"{model}: {target}", xlabel="input resolution (px)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("wall-clock speedup vs dense (x, log)")
    fig.legend(handles.values(), handles.keys(), fontsize=7, loc="center left",
               bbox_to_anchor=(1.0, 0.5))  # fmt: skip
    fig.suptitle("NeuroFlow vs token merging: speedup by resolution")
    return save(fig, path)
