"""Tables and the figure of a baseline comparison (:mod:`neuroflow.glyphs.baselines`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neuroflow.glyphs.baselines import methods_in, select  # noqa: E402

COLUMNS = (
    "k",
    "method",
    "keep",
    "top-1 [95% CI]",
    "retention",
    "clip fidelity",
    "FLOPs vs dense",
    "minus C [95% CI]",
)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def row_cells(row: dict) -> list[str]:
    """One row as table cells (accuracies and differences in points)."""
    k = "1" if row["keep_target"] is None else f"{row['keep_target']:g}"
    if row["status"] != "ok":
        return [k, row["method"], "—", f"unreachable: {row['reason']}", "", "", "", ""]
    low, high = row["clip_acc_ci95"]
    pair = row.get("vs_c")
    diff = (
        f"{_pct(pair['diff'])} [{_pct(pair['ci95'][0])}, {_pct(pair['ci95'][1])}]" if pair else "—"
    )
    return [
        k,
        row["method"],
        f"{row['keep']:.3f}",
        f"{_pct(row['clip_acc'])} [{_pct(low)}, {_pct(high)}]",
        f"{row['retention']:.3f}",
        f"{row['clip_fidelity']:.3f}",
        f"{row['flops_vs_dense']:.3f}",
        diff,
    ]


def markdown(rows: Sequence[dict]) -> str:
    """One Markdown table per clip variant."""
    parts = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = select(rows, variant=variant)
        n = len(mine[0]["hits"]) if mine and mine[0].get("hits") else "?"
        parts += [f"### {variant} ({n} clips)", ""]
        parts += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        parts += ["| " + " | ".join(row_cells(r)) + " |" for r in mine]
        parts.append("")
    return "\n".join(parts)


def csv_rows(rows: Sequence[dict]) -> list[dict]:
    """Flat rows for ``results.csv`` (per-clip hits left out; they stay in the JSON)."""
    flat = []
    for row in rows:
        out = {k: v for k, v in row.items() if k not in ("hits", "vs_c", "settings")}
        out["settings"] = ";".join(f"{k}={v}" for k, v in (row.get("settings") or {}).items())
        pair = row.get("vs_c") or {}
        out["minus_c"] = pair.get("diff")
        out["minus_c_low"], out["minus_c_high"] = (pair.get("ci95") or [None, None])[:2]
        out["minus_c_mcnemar_p"] = pair.get("mcnemar_p")
        flat.append(out)
    return flat


def plot(rows: Sequence[dict], path: Path) -> Path:
    """Clip top-1 against the reached keep fraction, one panel per variant, dense dashed."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    fig, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants), 4.5), squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        mine = select(rows, variant=variant, status="ok")
        for method in methods_in(mine):
            pts = sorted((r["keep"], r["clip_acc"]) for r in select(mine, method=method))
            if method == "dense":
                ax.axhline(pts[0][1], color="black", ls="--", lw=1, label="dense")
                continue
            style = {"lw": 2.5, "color": "black"} if method == "C" else {"lw": 1.2}
            ax.plot(*zip(*pts, strict=True), marker="o", label=method, **style)
        ax.set(xlabel="keep fraction reached", ylabel="clip top-1", title=variant, ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.suptitle("moving glyphs, mini SigLIP: accuracy vs keep fraction at matched k")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
