"""The speed table and the goal check of a matched-k ablation (:mod:`neuroflow.glyphs.speed`).

A goal is a retention against dense to reach at a mean keep fraction no larger than a bound,
per clip variant (``{"change": (0.90, 0.30)}``). :func:`goal_rows` says, for every method
and variant, the best retention it reached within the bound, at which keep, and whether that
meets the goal, so the table states plainly what falls short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from neuroflow.glyphs.baselines import methods_in, select


def goal_rows(rows: Sequence[dict], goals: Mapping[str, Sequence[float]]) -> list[dict]:
    """Best retention of every method within each variant's keep bound.

    Args:
        rows: Comparison rows (:func:`neuroflow.glyphs.baselines.compare`).
        goals: Variant -> ``(retention, max keep)``; variants without rows are skipped.

    Returns:
        One dict per (variant, method): ``retention`` (None when no row is within the
        bound), ``keep`` and ``keep_target`` of that row, ``calibrated_retention`` at the
        same row (when calibrated), and ``met``.
    """
    out = []
    for variant, (retention, max_keep) in goals.items():
        mine = [r for r in select(rows, variant=variant) if r["method"] != "dense"]
        for method in methods_in(mine):
            within = [
                r
                for r in select(mine, method=method, status="ok")
                if r["keep"] <= float(max_keep) + 1e-9
            ]
            best = max(within, key=lambda r: r["retention"], default=None)
            out.append(
                {
                    "variant": variant,
                    "method": method,
                    "goal_retention": float(retention),
                    "goal_keep": float(max_keep),
                    "retention": best["retention"] if best else None,
                    "keep": best["keep"] if best else None,
                    "keep_target": best["keep_target"] if best else None,
                    "calibrated_retention": best.get("calibrated_retention") if best else None,
                    "met": bool(best and best["retention"] >= float(retention)),
                }
            )
    return out


def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def goals_markdown(goals: Sequence[dict]) -> str:
    """The goal check as a Markdown table."""
    lines = [
        "### Goals: best retention vs dense within the keep bound",
        "",
        "| clips | method | goal | best retention | at keep | calibrated | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in goals:
        goal = f"≥ {g['goal_retention']:.2f} at keep ≤ {g['goal_keep']:.2f}"
        lines.append(
            f"| {g['variant']} | {g['method']} | {goal} | {_num(g['retention'])} | "
            f"{_num(g['keep'])} | {_num(g['calibrated_retention'])} | "
            f"{'yes' if g['met'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def speed_markdown(speed: Sequence[dict]) -> str:
    """The speed rows as a Markdown table (time relative to Arch C at the same target k)."""
    if not speed:
        return ""
    first = speed[0]
    lines = [
        f"### Speed: {first['model']}, {first['resolution']} px, {first['device']}",
        "",
        "| k | method | keep on the clip | ms / frame | vs dense | time vs C | state / stream |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in speed:
        lines.append(
            f"| {s['keep_target']:g} | {s['method']} | {s['bench_keep']:.3f} | "
            f"{s['ms_median']:.1f} | {s['speedup_vs_dense']:.2f}x | {_num(s['vs_c'], 2)} | "
            f"{s['state_bytes_per_stream'] / 2**20:.1f} MiB |"
        )
    return "\n".join(lines) + "\n"
