"""Markdown, console summary and figures of a ``neuroflow-analyze`` run.

Tables arrive as ``{name: {"rows": [...], "attrs": {...}}}`` (what the run stores); a figure
is drawn only for the tables the run made.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

Tables = Mapping[str, Mapping[str, Any]]
CONSOLE_COLUMNS = 9  # leading columns printed per table

TITLES = {
    "representation_gap": "Representation gap: cos(layer k, final layer) per token (paper T1)",
    "final_layer_stability": "Final-layer stability of inactive vs active patches, t vs t-1",
    "contextual_incompatibility": "Active shift vs cache staleness (paper T7)",
    "map_entropy": "MAP-head attention entropy (paper T10)",
    "pooled_magnitude": "Pooled-embedding norm and max logit (paper §5.14, §9.3)",
    "map_surprise_spearman": "Spearman ρ of MAP attention vs gate surprise (paper §5)",
    "gate_quality": "Keep mask vs ground-truth motion: precision, recall, IoU",
    "failure_classes": "Failure classes: per-class gap, dense - Arch C (paper T3)",
    "failure_quartiles": "Gap by optical-flow and centroid-displacement quartile (paper T3 text)",
    "saturation_law": "Saturation law: gap vs skip, paired TOST (paper T6)",
    "degradation_law": "Degradation law: gap vs position-embedding stretch (paper T5)",
    "capacity_law": "Capacity law (paper T8)",
}


def frame(table: Mapping[str, Any]) -> pd.DataFrame:
    """One stored table as a DataFrame (its fit in ``attrs``)."""
    out = pd.DataFrame(table["rows"])
    out.attrs.update(table.get("attrs") or {})
    return out


def _fit_line(attrs: Mapping[str, Any]) -> str:
    fit = attrs.get("fit")
    if not fit:
        return ""
    parts = [f"{k} = {fmt(v)}" for k, v in fit.items()]
    extra = [f"{k}: {v}" for k, v in attrs.items() if k != "fit"]
    return "\n\n" + "; ".join(parts) + ("\n\n" + "; ".join(extra) if extra else "")


def fmt(value: Any) -> str:
    """A table cell: floats to 4 significant digits, lists element-wise."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def markdown(tables: Tables) -> str:
    """Every table under its title, fits below it."""
    parts = ["# neuroflow-analyze\n"]
    for name, table in tables.items():
        view = frame(table)
        extra = {k: v for k, v in view.attrs.items() if k != "fit"}
        tail = _fit_line(view.attrs) or (
            "\n\n" + "; ".join(f"{k}: {v}" for k, v in extra.items()) if extra else ""
        )
        body = view.to_markdown(index=False, floatfmt=".4g") if len(view) else "(no rows)"
        parts.append(f"## {TITLES.get(name, name)}\n\n`{name}`\n\n{body}{tail}\n")
    return "\n".join(parts)


def summary(tables: Tables) -> list[tuple[str, pd.DataFrame, str]]:
    """``(title, view, caption)`` per table for the console: leading columns, fit as caption."""
    out = []
    for name, table in tables.items():
        view = frame(table)
        caption = _fit_line(view.attrs).strip().replace("\n\n", " | ")
        out.append((TITLES.get(name, name), view[view.columns[:CONSOLE_COLUMNS]], caption))
    return out


def plots(tables: Tables, out_dir: str | Path) -> list[Path]:
    """The figures of the tables present: law fits, failure quartiles, gate quality."""
    import matplotlib

    matplotlib.use("Agg")
    drawers = {
        "degradation_law": _degradation,
        "saturation_law": _saturation,
        "failure_quartiles": _quartiles,
        "gate_quality": _gate_quality,
    }
    paths = []
    for name, draw in drawers.items():
        if name in tables and tables[name]["rows"]:
            path = Path(out_dir) / f"{name}.png"
            draw(frame(tables[name]), path)
            paths.append(path)
    return paths


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _degradation(view: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    view = view.sort_values("stretch")
    ax.plot(view["stretch"], view["gap_pp"], "o", label="measured gap")
    ax.plot(view["stretch"], view["fitted_pp"], "-", label="fit a + b·max(0, σ−1)")
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="position-embedding stretch σ", ylabel="top-1 gap, dense − Arch C (pp)")
    ax.set_title("Degradation law")
    ax.legend()
    _save(fig, path)


def _saturation(view: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    low = view["gap_pp"] - view["gap_ci_low"]
    high = view["gap_ci_high"] - view["gap_pp"]
    ax.errorbar(100 * view["skip"], view["gap_pp"], yerr=[low, high], fmt="o", capsize=3)
    fit = view.attrs.get("fit") or {}
    if "gap_mean" in fit and "margin_pp" in fit:
        mean, margin = fit["gap_mean"], fit["margin_pp"]
        ax.axhspan(
            mean - margin,
            mean + margin,
            color="tab:green",
            alpha=0.15,
            label=f"mean gap ± {margin:g} pp (TOST margin)",
        )
        ax.legend()
    for i, (_, row) in enumerate(view.iterrows()):  # alternate sides: close skips overlap
        ax.annotate(
            str(row["label"]),
            (100 * row["skip"], row["gap_pp"]),
            fontsize=7,
            xytext=(4, 4 if i % 2 else -10),
            textcoords="offset points",
        )
    ax.set(xlabel="skip rate (%)", ylabel="top-1 gap, dense − Arch C (pp)")
    ax.set_title("Saturation law: gap vs skip (95% paired intervals)")
    _save(fig, path)


def _quartiles(view: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    measures = list(dict.fromkeys(view["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(5 * len(measures), 3.6), squeeze=False)
    for ax, measure in zip(axes[0], measures, strict=True):
        part = view[view["measure"] == measure].sort_values("quartile")
        err = [part["gap_pp"] - part["gap_ci_low"], part["gap_ci_high"] - part["gap_pp"]]
        ax.bar(part["quartile"].astype(str), part["gap_pp"], yerr=err, capsize=3)
        ax.axhline(0, color="black", lw=0.8)
        ax.set(xlabel=f"{measure} quartile (1 = lowest)", ylabel="gap (pp)")
        ax.set_title(measure)
    fig.suptitle("Top-1 gap by motion quartile (95% paired intervals)")
    _save(fig, path)


def _gate_quality(view: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    part = view[view["scope"] == "frame"]
    labels = [f"{d}\n{t}" for d, t in zip(part["dataset"], part["truth"], strict=True)]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    width = 0.25
    for i, metric in enumerate(("precision", "recall", "iou")):
        xs = [j + (i - 1) * width for j in range(len(part))]
        ax.bar(xs, part[metric], width, label=metric)
    # A random keep of the same density has precision = the truth's density.
    ax.scatter(
        range(len(part)),
        part["truth_density"],
        marker="_",
        s=400,
        color="black",
        zorder=3,
        label="precision of random keep",
    )
    ax.set_xticks(range(len(part)), labels, fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="per-frame mean")
    ax.set_title("Keep mask vs ground-truth motion")
    ax.legend()
    _save(fig, path)
