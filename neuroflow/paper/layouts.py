"""The paper's tables in its own layout (headers, units, row order) from the collected runs.

Each builder returns the :class:`~neuroflow.paper.tables.Layout` its runs fill (none when they
were not given): the evaluation, benchmark, baselines, moving-glyphs, distillation and
language-model tables here, the analysis tables in :mod:`~neuroflow.paper.layouts_analysis`.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from neuroflow.paper.collect import Collected
from neuroflow.paper.layouts_analysis import analysis_layouts
from neuroflow.paper.tables import Layout, pick_columns

_EVAL = {
    "model": "Model",
    "arch": "Condition",
    "threshold": "θ",
    "ema_decay": "α",
    "skip_rate": "Skip (%)",
    "sparse_top1": "Top-1 (%)",
    "sparse_top3": "Top-3 (%)",
    "gap_pp": "Gap (pp)",
    "retention": "Retention (%)",
    "fidelity": "Fidelity",
    "walltime_ratio": "Wall-time ratio",
    "clips": "n",
}


_EVAL_PCT = ("skip_rate", "sparse_top1", "sparse_top3", "retention")


def _eval_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Dense first (one row per model), then every sparse run ordered by skip."""
    rows = rows.reset_index(drop=True)
    first = rows.drop_duplicates("model")
    dense = first.assign(
        arch="dense",
        threshold=None,
        ema_decay=None,
        skip_rate=0.0,
        gap_pp=None,
        sparse_top1=first["dense_top1"],
        sparse_top3=first["dense_top3"],
        retention=1.0,
        fidelity=1.0,
        walltime_ratio=1.0,
    )
    sparse = rows.sort_values(["model", "arch", "skip_rate"], kind="stable")
    return pick_columns(pd.concat([dense, sparse]), _EVAL, _EVAL_PCT)


# Evaluation tables of one architecture: (arch, the archs shown, item, caption).
_ARCH_TABLES = (
    ("D", ("D", "C"), "T2", "Arch D vs C"),
    ("B", ("B",), "T18", "Arch B, no fine-tuning"),
)


def eval_layouts(c: Collected) -> list[Layout]:
    """Every evaluation run (T4, T9), and Arch D vs C (T2) and Arch B (T18) when run."""
    ev = c.eval
    if ev is None:
        return []
    out = [
        Layout(
            "T4_T9_eval",
            "T4",
            "Zero-shot top-1 by inference mode (dense on the same clips)",
            _eval_table(ev),
        )
    ]
    for arch, shown, item, caption in _ARCH_TABLES:
        if arch in set(ev["arch"]):
            table = _eval_table(ev[ev["arch"].isin(shown)])
            out.append(Layout(f"{item}_arch_{arch.lower()}", item, caption, table))
    return out


_BENCH = {
    "model": "Model",
    "device": "Device",
    "dtype": "dtype",
    "resolution": "Res. (px)",
    "method": "Method",
    "target_keep": "Target k",
    "k": "k",
    "dense_ms": "Dense (ms)",
    "ms_median": "Method (ms)",
    "ms_p5": "P5 (ms)",
    "ms_p95": "P95 (ms)",
    "speedup": "Speedup (x)",
    "ceiling": "FLOP ceiling (x)",
}


def _with_dense_ms(bench: pd.DataFrame) -> pd.DataFrame:
    """Each row with its run's dense median at the same resolution and target."""
    frame = bench.reset_index()
    keys = ["run", "resolution", "streams", "target_keep"]
    dense = frame[frame["method"] == "dense"][[*keys, "ms_median"]]
    dense = dense.rename(columns={"ms_median": "dense_ms"})
    return frame.merge(dense, on=keys, how="left")


def bench_layouts(c: Collected) -> list[Layout]:
    """Every benchmark row with its dense latency and speedup (the speed tables' numbers)."""
    if c.bench is None:
        return []
    frame = _with_dense_ms(c.bench)
    frame = frame.sort_values(["model", "resolution", "target_keep", "method"], kind="stable")
    caption = (
        "Median latency and speedup vs dense in the same process (T11, T12, T16, T17, T19, F3)"
    )
    return [Layout("bench_speedup", "T11", caption, pick_columns(frame, _BENCH))]


def matched_keep(c: Collected) -> tuple[pd.DataFrame, str | None] | None:
    """The baselines' accuracy rows (status ok) with ``speedup_<res>`` and ``k_<res>`` (the
    keep fraction the benchmark timed) columns from the one benchmark run that times most of
    their (method, target keep) points; that run's label."""
    base = c.baselines
    if base is None:
        return None
    base = base[base["status"] == "ok"].copy()
    if c.bench is None:
        return base, None
    bench = c.bench.reset_index()
    points = set(zip(base["method"], base["keep_target"], strict=True))

    def overlap(part: pd.DataFrame) -> int:
        return len(points & set(zip(part["method"], part["target_keep"], strict=True)))

    scores = {run: overlap(part) for run, part in bench.groupby("run", sort=True)}
    run = max(scores, key=lambda r: scores[r])
    if scores[run] == 0:
        return base, None
    speed = bench[bench["run"] == run].rename(columns={"target_keep": "keep_target"})
    for res, part in speed.groupby("resolution", sort=True):
        part = part.drop_duplicates(["method", "keep_target"])
        part = part[["method", "keep_target", "speedup", "k"]]
        part = part.rename(columns={"speedup": f"speedup_{res}", "k": f"k_{res}"})
        base = base.merge(part, how="left", on=["method", "keep_target"])
        base.loc[base["method"] == "dense", [f"speedup_{res}", f"k_{res}"]] = 1.0
    return base, run


def baselines_layouts(c: Collected) -> list[Layout]:
    """Arch C and the baselines at matched keep, with the speedups of :func:`matched_keep`."""
    found = matched_keep(c)
    if found is None:
        return []
    base, speed_run = found
    columns = {
        "variant": "Variant",
        "method": "Method",
        "keep_target": "Target k",
        "keep": "Keep",
        "clip_acc": "Clip T1 (%)",
        "clip_acc_ci_low": "CI low (%)",
        "clip_acc_ci_high": "CI high (%)",
        "minus_c": "minus C (pp)",
        "clip_fidelity": "Clip fidelity",
        "flops_vs_dense": "FLOPs vs dense",
    }
    for col in base.columns:
        if str(col).startswith(("speedup_", "k_")):
            kind, res = col.split("_", 1)
            columns[col] = f"Speedup {res} px (x)" if kind == "speedup" else f"k timed {res} px"
    base = base.assign(minus_c=100 * base["minus_c"])
    table = pick_columns(base, columns, ("clip_acc", "clip_acc_ci_low", "clip_acc_ci_high"))
    caption = "Arch C and baselines at matched keep: clip top-1 on moving glyphs"
    caption += f", speedup from {speed_run}" if speed_run else ""
    return [Layout("baselines_matched_keep", "F2", caption, table)]


def _glyph_row(row: dict) -> dict:
    """One budget of the moving-glyphs benchmark: Arch C vs random keep, paired."""
    paired = row.get("paired") or {}
    low, high = paired.get("ci95") or (None, None)
    return {
        "Keep": row["arch_c"]["keep_fraction"],
        "Arch C (%)": 100 * row["arch_c"]["clip_acc"],
        "Random (%)": 100 * row["random"]["clip_acc"],
        "C - random (pp)": 100 * paired.get("diff", float("nan")),
        "CI low": None if low is None else 100 * low,
        "CI high": None if high is None else 100 * high,
        "McNemar p": paired.get("mcnemar_p"),
        "Motion recall C": row["arch_c"].get("motion_recall"),
    }


def glyph_layouts(c: Collected) -> list[Layout]:
    """Every moving-glyphs benchmark row: Arch C vs random keep at the same budget."""
    rows = [
        {"Run": run.label, "Mode": mode, "Variant": variant, **_glyph_row(row)}
        for run in c.of_kind("glyphs")
        for mode, entry in sorted(run.data["modes"].items())
        for variant, result in entry["results"].items()
        for row in result.get("rows", [])
    ]
    if not rows:
        return []
    caption = "Moving glyphs: Arch C vs random keep at the same budget (clip top-1)"
    return [Layout("glyphs_arch_c_vs_random", "T4", caption, pd.DataFrame(rows))]


def distill_layouts(c: Collected) -> list[Layout]:
    """The test rows of every distillation run: Arch B before and after (T13, T14)."""
    rows = [
        {"run": run.label, **row}
        for run in c.of_kind("distill")
        for row in run.data["test"]["rows"]
    ]
    if not rows:
        return []
    columns = {
        "model": "Model",
        "path": "Path",
        "keep_fraction": "Keep",
        "top1": "Top-1 (%)",
        "ci_low": "CI low (%)",
        "ci_high": "CI high (%)",
        "fidelity_original": "Fidelity to original",
        "fidelity_dense": "Fidelity to dense",
    }
    table = pick_columns(pd.DataFrame(rows), columns, ("top1", "ci_low", "ci_high"))
    return [Layout("T13_T14_distill", "T13", "Arch B before and after distillation", table)]


_LLM = {
    "llm_similarity": ("T20", "Per-layer attention-output similarity of consecutive decode steps"),
    "llm_perplexity": ("T21", "Perplexity, dense vs bypass (ΔPPL % with its 95% interval)"),
    "llm_drift": ("T22", "Token drift of greedy continuations vs dense"),
    "llm_latency": ("T22", "Decode latency per token, dense vs bypass"),
}


def llm_layouts(c: Collected) -> list[Layout]:
    """The ``neuroflow-llm`` tables (T20-T22), as collected."""
    out = []
    for name, (item, caption) in _LLM.items():
        frame = c.llm.get(name)
        if frame is not None:
            table = frame.reset_index(drop=True).drop(columns=["reason"], errors="ignore")
            out.append(Layout(f"{item}_{name.removeprefix('llm_')}", item, caption, table))
    return out


BUILDERS: tuple[Callable[[Collected], list[Layout]], ...] = (
    analysis_layouts,
    eval_layouts,
    bench_layouts,
    baselines_layouts,
    glyph_layouts,
    distill_layouts,
    llm_layouts,
)


def layouts(c: Collected) -> list[Layout]:
    """Every table the collected runs fill, sorted by file stem."""
    return sorted((t for build in BUILDERS for t in build(c)), key=lambda t: t.name)
