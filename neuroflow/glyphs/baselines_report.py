"""Tables and the figure of a baseline comparison (:mod:`neuroflow.glyphs.baselines`).

Runs with ``calibrate`` add a ``calibrated`` column: clip top-1 after the per-class logit
bias fitted on the calibration clips (only when some row has it, so older runs' tables
stay as they were).
"""

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
CALIBRATED = "calibrated"  # extra column of runs with calibrate=True


def is_calibrated(rows: Sequence[dict]) -> bool:
    """Whether any row holds a calibrated accuracy."""
    return any("calibrated_acc" in r for r in rows)


def columns(rows: Sequence[dict]) -> tuple[str, ...]:
    """Table columns of ``rows``: :data:`COLUMNS`, plus ``calibrated`` where rows have it."""
    return (*COLUMNS, CALIBRATED) if is_calibrated(rows) else COLUMNS


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _with_ci(value: float, ci95: Sequence[float]) -> str:
    return f"{_pct(value)} [{_pct(ci95[0])}, {_pct(ci95[1])}]"


def row_cells(row: dict, calibrated: bool = False) -> list[str]:
    """One row as table cells (accuracies and differences in points).

    Args:
        row: A comparison row.
        calibrated: Add the ``calibrated`` cell (see :func:`columns`).
    """
    k = "1" if row["keep_target"] is None else f"{row['keep_target']:g}"
    if row["status"] != "ok":
        reason = f"unreachable: {row['reason']}"
        return [k, row["method"], "—", reason, "", "", "", ""] + [""] * calibrated
    pair = row.get("vs_c")
    extra = []
    if calibrated:  # "—" for a row of a run without calibration among calibrated ones
        acc = row.get("calibrated_acc")
        extra = [_with_ci(acc, row["calibrated_acc_ci95"]) if acc is not None else "—"]
    return [
        k,
        row["method"],
        f"{row['keep']:.3f}",
        _with_ci(row["clip_acc"], row["clip_acc_ci95"]),
        f"{row['retention']:.3f}",
        f"{row['clip_fidelity']:.3f}",
        f"{row['flops_vs_dense']:.3f}",
        _with_ci(pair["diff"], pair["ci95"]) if pair else "—",
        *extra,
    ]


def markdown(rows: Sequence[dict]) -> str:
    """One Markdown table per clip variant."""
    parts, header, calibrated = [], columns(rows), is_calibrated(rows)
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = select(rows, variant=variant)
        n = len(mine[0]["hits"]) if mine and mine[0].get("hits") else "?"
        parts += [f"### {variant} ({n} clips)", ""]
        parts += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        parts += ["| " + " | ".join(row_cells(r, calibrated)) + " |" for r in mine]
        parts.append("")
    return "\n".join(parts)


def csv_rows(rows: Sequence[dict]) -> list[dict]:
    """Flat rows for ``results.csv`` (per-clip hits left out; they stay in the JSON).

    Calibrated runs' rows keep ``calibrated_acc``, its interval and ``calibrated_retention``.
    """
    flat = []
    dropped = ("hits", "calibrated_hits", "vs_c", "settings")
    for row in rows:
        out = {k: v for k, v in row.items() if k not in dropped}
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
