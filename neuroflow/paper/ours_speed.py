"""Our numbers for the speed items: benchmark and distillation runs (T11-T17, T19, F1, F3)."""

from __future__ import annotations

import pandas as pd

from neuroflow.paper.collect import Collected
from neuroflow.paper.ours import bench_rows, join_parts, model_tag, pct, speedups

# The clip neuroflow-bench times when no video is given: T15 wants any other video.
BUNDLED_VIDEO = "bikes"


def pareto_latency(c: Collected) -> str | None:
    """T11: Arch C benchmark speedups per resolution."""
    rows = bench_rows(c, "C")
    return None if rows is None else speedups(rows, with_k=True)


def dynamicvit(c: Collected) -> str | None:
    """T12: DynamicViT-style dropping and Arch B/C at the largest timed resolution."""
    rows = bench_rows(c, "token_drop", "B", "C")
    if rows is None or not rows["method"].astype(str).str.startswith("token_drop").any():
        return None
    top = rows[rows["resolution"] == rows["resolution"].max()]
    return speedups(top, with_k=True)


def distill(c: Collected) -> str | None:
    """T13/T14: Arch B top-1 before and after distillation, and the forgetting check."""
    parts = []
    for run in c.of_kind("distill"):
        rows = {(r["model"], r["path"]): r for r in run.data["test"]["rows"]}
        point, dense = "operating point", "dense"
        if ("student", point) not in rows:
            continue
        before, after = rows[("original", point)], rows[("student", point)]
        source = (run.data["identity"].get("model") or {}).get("source")
        parts.append(
            f"[{source}] Arch B at keep {after['keep_fraction']:.2f}: top-1 "
            f"{pct(before['top1'])} -> {pct(after['top1'])}; dense "
            f"{pct(rows[('original', dense)]['top1'])} -> {pct(rows[('student', dense)]['top1'])} "
            f"(forgetting check); fidelity to the dense student {after['fidelity_dense']:.3f}"
        )
    return join_parts(parts)


def _raw_bench_rows(c: Collected) -> pd.DataFrame | None:
    """Every benchmark run's own rows (the percentiles the collected table leaves out)."""
    rows = [
        {**row, "video": (run.data.get("identity") or {}).get("video"), "run": run.label}
        for run in c.of_kind("bench")
        for row in run.data["rows"]
    ]
    return pd.DataFrame(rows) if rows else None


def other_video(c: Collected) -> str | None:
    """T15: Arch B benchmark rows on a video other than the bundled clip."""
    rows = _raw_bench_rows(c)
    if rows is None:
        return None
    rows = rows[rows["video"].notna() & (rows["video"] != BUNDLED_VIDEO) & (rows["method"] == "B")]
    return None if rows.empty else f"videos {sorted(set(rows.video))}: {speedups(rows, True)}"


def latency_spread(c: Collected) -> str | None:
    """T16/T19: Arch B median, IQR and P5-P95 latency (benchmark rows)."""
    rows = _raw_bench_rows(c)
    if rows is None or "ms_p25" not in rows:
        return None
    rows = rows[rows["method"].astype(str).str.startswith("B")]
    rows = rows.drop_duplicates(["run", "resolution", "method", "target_keep"])
    cells = [
        f"{int(r.resolution)} px {r.method}: {r.ms_median:.2f} ms IQR [{r.ms_p25:.2f}, "
        f"{r.ms_p75:.2f}] P5-P95 [{r.ms_p5:.2f}, {r.ms_p95:.2f}] ({r.speedup:.2f}x)"
        for r in rows.sort_values(["resolution", "method"]).itertuples()
    ]
    return "; ".join(cells) or None


def arch_a(c: Collected) -> str | None:
    """T17: Arch A speedup against its FLOP ceiling (benchmark rows)."""
    rows = bench_rows(c, "A")
    if rows is None:
        return None
    cells = [
        f"{int(r.resolution)} px {r.speedup:.2f}x (FLOP ceiling {r.ceiling:.2f}x, k {r.k:.2f})"
        for r in rows.sort_values("resolution").itertuples()
    ]
    return f"{model_tag(rows)}Arch A {', '.join(cells)}"


def speedup_by_resolution(c: Collected) -> str | None:
    """F1: Arch B/C benchmark speedups at two or more resolutions."""
    rows = bench_rows(c, "B", "C")
    if rows is None or rows["resolution"].nunique() < 2:
        return None
    return speedups(rows, with_k=True)


def tome(c: Collected) -> str | None:
    """F3: ToMe and NeuroFlow benchmark speedups per resolution."""
    rows = bench_rows(c, "tome", "tome_paper", "gate_tome", "B", "C")
    if rows is None or not rows["method"].astype(str).str.contains("tome").any():
        return None
    return speedups(rows)
