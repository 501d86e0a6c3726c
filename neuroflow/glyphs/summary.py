"""Markdown tables of a moving-glyphs report (the README and docs quote them)."""

from __future__ import annotations


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def dense_table(results: dict[str, dict]) -> str:
    """Dense accuracy per variant: per frame, first frame alone, last frame, whole clip."""
    lines = [
        "| variant | clips | per frame | first frame | last frame | clip (mean emb.) |",
        "|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        d = res["dense"]
        lines.append(
            f"| {name} | {res['n']} | {_pct(d['per_frame'])} | {_pct(d['first_frame'])} | "
            f"{_pct(d['last_frame'])} | {_pct(d['clip_mean'])} |"
        )
    return "\n".join(lines)


def comparison_table(results: dict[str, dict]) -> str:
    """Arch C vs random keep per variant and keep fraction, with the paired difference."""
    lines = [
        "| variant | keep | kept/frame | Arch C | random | C - random [95% CI] | McNemar p "
        "| motion recall C / random | clip fidelity C / random |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        for row in res["rows"]:
            c, r, p = row["arch_c"], row["random"], row["paired"]
            lines.append(
                f"| {name} | {row['keep_target']} | {c['keep_count_per_frame']:.1f} | "
                f"{_pct(c['clip_acc'])} | {_pct(r['clip_acc'])} | {_pct(p['diff'])} "
                f"[{_pct(p['ci95'][0])}, {_pct(p['ci95'][1])}] | {p['mcnemar_p']:.2g} | "
                f"{c['motion_recall']:.2f} / {r['motion_recall']:.2f} | "
                f"{c['clip_fidelity']:.3f} / {r['clip_fidelity']:.3f} |"
            )
    return "\n".join(lines)


def pooled_table(rows: list[dict]) -> str:
    """The comparison over all variants' clips together."""
    lines = [
        "| keep | clips | dense | Arch C | random | C - random [95% CI] | McNemar p |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        p = row["paired"]
        lines.append(
            f"| {row['keep_target']} | {p['n']} | {_pct(row['dense_clip_acc'])} | "
            f"{_pct(row['arch_c_clip_acc'])} | {_pct(row['random_clip_acc'])} | "
            f"{_pct(p['diff'])} [{_pct(p['ci95'][0])}, {_pct(p['ci95'][1])}] | "
            f"{p['mcnemar_p']:.2g} |"
        )
    return "\n".join(lines)


def summary_table(report: dict) -> str:
    """All tables of a report, one section per gate mode (accuracies in %)."""
    parts = [f"EMA decay {report['ema_decay']} (selection: {report.get('ema_selection')})"]
    for mode, block in report["modes"].items():
        parts += [
            f"\n## gate mode: {mode}\n",
            dense_table(block["results"]),
            "",
            comparison_table(block["results"]),
        ]
        for group, rows in block["pooled"].items():
            parts += ["", f"pooled over {group} variants:", "", pooled_table(rows)]
    return "\n".join(parts)
