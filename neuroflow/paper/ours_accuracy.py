"""Our numbers for the accuracy items: UCF-101-style evaluation runs, the analysis tables
behind the paper's laws (T1-T10, T18), compute vs accuracy (F2) and gate quality (X1, X2).
"""

from __future__ import annotations

import pandas as pd

from neuroflow.paper.collect import Collected
from neuroflow.paper.ours import (
    analysis_table,
    bench_rows,
    dense_text,
    eval_row_text,
    eval_rows,
    join_parts,
    known,
    model_tag,
    pct,
    speedups,
)


def representation_gap(c: Collected) -> str | None:
    """T1: the gap by layer and the final-layer stability (analysis tables)."""
    gap, tag = analysis_table(c, "representation_gap")
    stable, stable_tag = analysis_table(c, "final_layer_stability")
    parts = []
    if gap is not None:
        cells = [f"L{int(r.layer)} {r.gap:.3f}" for r in gap.sort_values("layer").itertuples()]
        parts.append(f"{tag}gap by layer {', '.join(cells)}")
    if stable is not None:
        cells = [f"{r.status} {r.cos_prev:.2f}" for r in stable.itertuples()]
        parts.append(f"{stable_tag}final-layer cos(t, t-1) {', '.join(cells)}")
    return join_parts(parts)


def arch_d(c: Collected) -> str | None:
    """T2: Arch D and C evaluation runs (and their benchmark speedups)."""
    rows = eval_rows(c, "C", "D")
    if rows is None or "D" not in set(rows["arch"]):
        return None
    # Arch C only at the gate settings Arch D ran with: the comparison the table makes.
    arch_d_rows = rows[rows["arch"] == "D"]
    keys = [k for k in ("threshold", "ema_decay") if k in rows]
    same_gate = rows[rows["arch"] == "C"].merge(arch_d_rows[keys].drop_duplicates(), on=keys)
    rows = pd.concat([same_gate, arch_d_rows]) if keys else rows
    cells = "; ".join(eval_row_text(r) for _, r in rows.iterrows())
    text = f"{model_tag(rows)}{dense_text(rows)}; {cells}"
    bench = bench_rows(c, "C", "D")
    return join_parts([text, speedups(bench) if bench is not None else None])


def failure_classes(c: Collected) -> str | None:
    """T3: the largest class gaps and the gap by motion quartile (analysis)."""
    classes, tag = analysis_table(c, "failure_classes")
    quartiles, q_tag = analysis_table(c, "failure_quartiles")
    parts = []
    if classes is not None:
        top = classes.sort_values("gap_pp", ascending=False).head(4)
        cells = [
            f"{r['class']} (n={r.clips}) {pct(r.dense_top1)} -> {pct(r.sparse_top1)}"
            for _, r in top.iterrows()
        ]
        parts.append(f"{tag}largest gaps: {', '.join(cells)}")
    if quartiles is not None:
        for measure, part in quartiles.groupby("measure", sort=True):
            cells = [f"Q{int(r.quartile)} {r.gap_pp:+.1f}" for r in part.itertuples()]
            parts.append(f"{q_tag}{measure}: {', '.join(cells)} pp")
    return join_parts(parts)


def _glyphs_vs_random(c: Collected) -> str | None:
    """Arch C vs random keep at the smallest budget of the moving-glyphs benchmark."""
    runs = c.of_kind("glyphs")
    if not runs:
        return None
    data = runs[0].data
    mode = "budget" if "budget" in data["modes"] else next(iter(data["modes"]))
    moving = data["modes"][mode]["results"].get("moving")
    if not moving or not moving.get("rows"):
        return None
    row = moving["rows"][0]
    arch_c, rand = row["arch_c"], row["random"]
    return (
        f"[{data.get('model')}] glyphs moving, keep {arch_c['keep_fraction']:.2f}: Arch C "
        f"{pct(arch_c['clip_acc'])} vs random {pct(rand['clip_acc'])} "
        f"(dense {pct(moving['dense']['clip_mean'])})"
    )


def map_recovery(c: Collected) -> str | None:
    """T4: evaluation runs of Arch B and C, the confidence table, the glyph benchmark."""
    rows = eval_rows(c, "B", "C")
    parts = []
    if rows is not None:
        cells = "; ".join(eval_row_text(r) for _, r in rows.iterrows())
        parts.append(f"{model_tag(rows)}{dense_text(rows)}; {cells}")
    magnitude, tag = analysis_table(c, "pooled_magnitude")
    if magnitude is not None:
        cells = [f"{r.condition} {r.max_logit:.4g}" for r in magnitude.itertuples()]
        parts.append(f"{tag}max logit {', '.join(cells)}")
    return join_parts([*parts, _glyphs_vs_random(c)])


def degradation_law(c: Collected) -> str | None:
    """T5: the degradation-law points and fit (analysis)."""
    table, tag = analysis_table(c, "degradation_law")
    if table is None:
        return None
    fit = table.attrs.get("fit") or {}
    text = (
        f"{tag}gap {table.gap_pp.min():.2f} to {table.gap_pp.max():.2f} pp over stretch "
        f"{table.stretch.min():.2f}-{table.stretch.max():.2f}"
    )
    if fit:
        text += (
            f"; fit {fit['intercept']:.2f} {'-' if fit['slope'] < 0 else '+'} "
            f"{abs(fit['slope']):.2f} max(0, s - 1) pp "
            f"(R² {fit['r2']:.2f}, max |residual| {fit['max_abs_residual']:.2f} pp, n={fit['n']})"
        )
    return text


def saturation_law(c: Collected) -> str | None:
    """T6: the saturation law (analysis), else an Arch C threshold sweep."""
    table, tag = analysis_table(c, "saturation_law")
    if table is not None:
        fit = table.attrs.get("fit") or {}
        text = (
            f"{tag}gap {table.gap_pp.mean():.2f} +- {table.gap_pp.std(ddof=0):.2f} pp over "
            f"{pct(table.skip.min())}-{pct(table.skip.max())} skip; "
            f"{int(table.equivalent.sum())}/{len(table)} configs equivalent"
        )
        if fit:
            low, high = fit["slope_ci"]
            text += (
                f" (margin {fit['margin_pp']:g} pp); slope {fit['slope_pp_per_skip']:.2f} "
                f"pp per unit skip [{low:.2f}, {high:.2f}]"
            )
        return text
    rows = eval_rows(c, "C")
    if rows is None or rows["threshold"].nunique() < 2:
        return None
    return (
        f"{model_tag(rows)}{dense_text(rows)}; Arch C gap {rows.gap_pp.min():.2f} to "
        f"{rows.gap_pp.max():.2f} pp over {pct(rows.skip_rate.min())}-"
        f"{pct(rows.skip_rate.max())} skip ({len(rows)} runs)"
    )


def contextual_incompatibility(c: Collected) -> str | None:
    """T7: active shift vs cache staleness (analysis)."""
    table, tag = analysis_table(c, "contextual_incompatibility")
    if table is None:
        return None
    r = table.iloc[0]
    return (
        f"{tag}active shift {r.active_shift:.3f} +- {r.active_shift_std:.3f}, staleness "
        f"{r.cache_staleness:.3f} +- {r.cache_staleness_std:.3f}, ratio {r.ratio:.2f}x, "
        f"staleness share {pct(r.staleness_share)}"
    )


def capacity_law(c: Collected) -> str | None:
    """T8: big-model sparse minus small-model dense per configuration (analysis)."""
    table, tag = analysis_table(c, "capacity_law")
    if table is None:
        return None
    cells = [
        f"{r.label} ({pct(r.skip)} skip) {r.diff_pp:+.2f} pp [{r.diff_ci_low:+.2f}, "
        f"{r.diff_ci_high:+.2f}] {r.status}"
        for r in table.itertuples()
    ]
    return f"{tag}big sparse minus small dense: {'; '.join(cells)}"


def arch_c_summary(c: Collected) -> str | None:
    """T9: Arch C evaluation runs with their wall-time ratio, benchmark speedups."""
    rows = eval_rows(c, "C")
    parts = []
    if rows is not None:
        cells = [
            f"{eval_row_text(r)}, wall-time ratio {r.walltime_ratio:.2f}x"
            for _, r in rows.iterrows()
            if known(r.get("walltime_ratio"))
        ]
        parts.append(f"{model_tag(rows)}{dense_text(rows)}; {'; '.join(cells)}")
    bench = bench_rows(c, "C")
    if bench is not None:
        parts.append(f"bench {speedups(bench, with_k=True)}")
    return join_parts(parts)


def map_entropy(c: Collected) -> str | None:
    """T10: MAP entropy per condition and its Spearman rho with surprise (analysis)."""
    entropy, tag = analysis_table(c, "map_entropy")
    rho, rho_tag = analysis_table(c, "map_surprise_spearman")
    parts = []
    if entropy is not None:
        cells = [f"{r.condition} {r.entropy_norm:.3f}" for r in entropy.itertuples()]
        parts.append(f"{tag}H_norm {', '.join(cells)}")
    if rho is not None:
        cells = [
            f"{r.condition} {r.rho:+.3f} [{r.rho_ci_low:+.3f}, {r.rho_ci_high:+.3f}]"
            for r in rho.itertuples()
        ]
        parts.append(f"{rho_tag}Spearman(attention, surprise) {', '.join(cells)}")
    return join_parts(parts)


def arch_b_no_finetune(c: Collected) -> str | None:
    """T18: Arch B evaluation runs on the unmodified model (fidelity, top-1)."""
    rows = eval_rows(c, "B")
    if rows is None:
        return None
    cells = [
        f"{eval_row_text(r)}, fidelity {r.fidelity:.3f}"
        for _, r in rows.iterrows()
        if known(r.fidelity)
    ]
    return f"{model_tag(rows)}{dense_text(rows)}; {'; '.join(cells)}"


def compute_accuracy(c: Collected) -> str | None:
    """F2: Arch C top-1 against tokens recomputed (evaluation runs, else baselines)."""
    rows = eval_rows(c, "C")
    if rows is not None:
        cells = [
            f"{pct(r.sparse_top1)} at {pct(1 - r.skip_rate)} compute" for r in rows.itertuples()
        ]
        return f"{model_tag(rows)}{dense_text(rows)}; Arch C {', '.join(cells)}"
    base = c.baselines
    if base is None:
        return None
    base = base[(base["method"] == "C") & (base["status"] == "ok")]
    cells = [
        f"{variant} {', '.join(f'{pct(r.clip_acc)} at keep {r.keep:.2f}' for r in p.itertuples())}"
        for variant, p in base.groupby("variant", sort=True)
    ]
    return f"baselines, Arch C: {'; '.join(cells)}" if cells else None


def _gate_scores(c: Collected, columns: tuple[str, ...]) -> str | None:
    """``columns`` of the gate-quality table per dataset and truth (pooled rows if any)."""
    table, tag = analysis_table(c, "gate_quality")
    if table is None:
        return None
    pooled = table[table["scope"] == "pooled"]
    pooled = pooled if not pooled.empty else table
    cells = [
        f"{r['dataset']}/{r['truth']} "
        + " ".join(f"{col} {r[col]:.2f}" for col in columns if known(r.get(col)))
        for _, r in pooled.iterrows()
    ]
    return f"{tag}{'; '.join(cells)}"


def gate_quality(c: Collected) -> str | None:
    """X1: gate precision and recall against ground-truth motion (analysis)."""
    return _gate_scores(c, ("precision", "recall"))


def segmentation(c: Collected) -> str | None:
    """X2: cluster labels of ``neuroflow-segment`` runs, and the active mask's IoU (analysis)."""
    cells = []
    for run in c.of_kind("segment"):
        s = run.data["summary"]
        if s.get("cluster_accuracy") is None:
            continue
        cells.append(
            f"cluster label = the clip's class {pct(s['cluster_accuracy'])} of "
            f"{s['graded_clusters']} clusters (whole frame {pct(s['frame_accuracy'])}), "
            f"{s['clusters_per_frame']:.2f} clusters per frame"
        )
    return join_parts(["; ".join(cells) or None, _gate_scores(c, ("iou",))])
