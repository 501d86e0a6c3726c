"""Tables and figures of the bypass ablation: Markdown for the console and files, two plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

# Where a row sits: the text or prompt domain, then the bypass setting.
_SETTING = ["config", "gate_layer", "cache_layers", "kv", "threshold"]
COLUMNS = {
    "similarity": ["layer", "mean", "p10", "p50", "p90", "steps"],
    "perplexity": [
        "domain",
        *_SETTING,
        "ppl",
        "delta_ppl",
        "delta_ppl_pct",
        "delta_ppl_pct_low",
        "delta_ppl_pct_high",
        "bypass_rate",
        "gate_p50",
        "tokens",
        "status",
    ],
    "drift": [
        "domain",
        *_SETTING,
        "bypass_rate",
        "drift",
        "identical_share",
        "first_divergence_median",
        "entropy",
        "entropy_bypassed",
        "entropy_fresh",
        "prompts",
        "steps",
        "status",
    ],
    "latency": [
        *_SETTING,
        "dense_ms",
        "bypass_ms",
        "speedup",
        "bypass_rate",
        "steps",
        "repeats",
        "status",
    ],
}


def frame(rows: Sequence[Mapping], table: str) -> pd.DataFrame:
    """The rows of ``table`` as a data frame in the report's column order."""
    data = pd.DataFrame(list(rows))
    return data[[c for c in COLUMNS[table] if c in data.columns]]


def markdown(tables: Mapping[str, Sequence[Mapping]]) -> str:
    """Every table as a Markdown section."""
    parts = []
    for table, rows in tables.items():
        if rows:
            text = frame(rows, table).to_markdown(index=False, floatfmt=".4g")
            parts.append(f"## {table}\n\n{text}\n")
    return "\n".join(parts)


def plot_similarity(rows: Sequence[Mapping], path: Path) -> Path:
    """Bar chart of each layer's median similarity, P10-P90 as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = frame(rows, "similarity")
    fig, ax = plt.subplots(figsize=(6, 3.2))
    low, high = data["p50"] - data["p10"], data["p90"] - data["p50"]
    ax.bar(data["layer"], data["p50"], yerr=[low, high], capsize=3, color="tab:blue")
    ax.set(
        xlabel="layer",
        ylabel="cos(attn out t, t-1)",
        ylim=(min(0, data["p10"].min()), 1),
        title="attention-output similarity of consecutive decode steps (median, P10-P90)",
    )
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_drift(rows: Sequence[Mapping], path: Path) -> Path:
    """Token drift and bypass rate against θ: one panel per domain, one line per config."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = frame(rows, "drift")
    data = data[(data["config"] != "dense") & (data.get("status", "ok") != "not run")]
    domains = list(dict.fromkeys(data["domain"]))
    fig, axes = plt.subplots(1, len(domains), figsize=(4 * len(domains), 3.4), squeeze=False)
    for ax, domain in zip(axes[0], domains, strict=True):
        part = data[data["domain"] == domain]
        for (config, kv), line in part.groupby(["config", "kv"], sort=False):
            line = line.sort_values("threshold")
            shown = ax.plot(line["threshold"], line["drift"], marker="o", label=f"{config} {kv}")
            ax.plot(line["threshold"], line["bypass_rate"], ls=":", color=shown[0].get_color())
        ax.set(title=domain, xlabel="threshold θ", ylim=(-0.02, 1.02))
    axes[0][0].set_ylabel("drift (solid), bypass rate (dotted)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _pct(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{100 * value:.0f}%"


def _cells(rows: Sequence[Mapping], table: str) -> pd.DataFrame:
    """One cell per (config, kv, θ) × domain: what a reader compares across domains."""
    data = frame(rows, table)
    data = data[data["config"] != "dense"]

    def cell(row) -> str:
        if row.get("status") == "not run":
            return "not run"
        if table == "perplexity":
            return (
                f"{row['delta_ppl_pct']:+.1f}% [{row['delta_ppl_pct_low']:+.1f}, "
                f"{row['delta_ppl_pct_high']:+.1f}] @ {_pct(row['bypass_rate'])}"
            )
        return f"{_pct(row['drift'])} @ {_pct(row['bypass_rate'])}"

    data = data.assign(cell=data.apply(cell, axis=1))
    index = ["config", "kv", "threshold"]
    return data.pivot_table(
        index=index, columns="domain", values="cell", aggfunc="first", sort=False
    ).reset_index()


def summary(tables: Mapping[str, Sequence[Mapping]]) -> list[tuple[str, pd.DataFrame, str]]:
    """``(title, frame, caption)`` of the console summary: compact views of each table."""
    out = []
    if tables.get("similarity"):
        view = frame(tables["similarity"], "similarity").round(3)
        out.append(("attention-output similarity per layer", view, "cos of consecutive steps"))
    if tables.get("perplexity"):
        dense = {r["domain"]: r["ppl"] for r in tables["perplexity"] if r["config"] == "dense"}
        caption = "ΔPPL vs dense [95% block bootstrap] @ bypass rate; dense PPL " + ", ".join(
            f"{d} {p:.2f}" for d, p in dense.items()
        )
        out.append(("perplexity", _cells(tables["perplexity"], "perplexity"), caption))
    if tables.get("drift"):
        caption = "share of generated tokens that differ from dense @ bypass rate"
        out.append(("token drift", _cells(tables["drift"], "drift"), caption))
    if tables.get("latency"):
        view = frame(tables["latency"], "latency").round(3)
        view = view[[c for c in view.columns if c not in ("gate_layer", "cache_layers", "status")]]
        out.append(("decode latency (ms per token, median)", view, "speedup = dense / bypass"))
    return out
