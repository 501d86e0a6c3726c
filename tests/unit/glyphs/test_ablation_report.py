"""The goal check and the speed table of a matched-k ablation."""

from __future__ import annotations

from neuroflow.glyphs.ablation_report import goal_rows, goals_markdown, speed_markdown


def _row(method, keep_target, keep, retention, variant="change", status="ok"):
    return {
        "variant": variant,
        "method": method,
        "keep_target": keep_target,
        "keep": keep,
        "retention": retention,
        "status": status,
    }


ROWS = [
    {
        "variant": "change",
        "method": "dense",
        "keep_target": None,
        "keep": 1.0,
        "retention": 1.0,
        "status": "ok",
    },
    _row("C", 0.2, 0.203, 0.30),
    _row("C", 0.35, 0.359, 0.95),  # above the bound: does not count
    _row("C:refresh", 0.1, 0.11, 0.80),
    _row("C:refresh", 0.2, 0.21, 0.92),
    _row("tome", 0.2, None, None, status="unreachable"),
]


def test_the_best_retention_within_the_keep_bound_decides_the_goal():
    goals = {r["method"]: r for r in goal_rows(ROWS, {"change": (0.90, 0.30), "noisy": (1, 1)})}
    assert set(goals) == {"C", "C:refresh", "tome"}  # dense is the reference, not a contender
    assert goals["C"]["retention"] == 0.30 and not goals["C"]["met"]
    assert goals["C:refresh"]["retention"] == 0.92 and goals["C:refresh"]["met"]
    assert goals["C:refresh"]["keep_target"] == 0.2
    assert goals["tome"]["retention"] is None and not goals["tome"]["met"]
    text = goals_markdown(list(goals.values()))
    assert "| change | C:refresh | ≥ 0.90 at keep ≤ 0.30 | 0.920 | 0.210 | — | yes |" in text


def test_the_speed_table_names_the_machine_and_the_ratio_to_c():
    speed = [
        {
            "keep_target": 0.2,
            "method": m,
            "bench_keep": 0.2,
            "ms_median": ms,
            "speedup_vs_dense": 3.0,
            "state_bytes_per_stream": 2**20,
            "vs_c": ms / 10.0,
            "device": "Some CPU",
            "model": "random:siglip-b16",
            "resolution": 224,
        }
        for m, ms in (("C", 10.0), ("E", 11.5))
    ]
    text = speed_markdown(speed)
    assert "random:siglip-b16, 224 px, Some CPU" in text
    assert "| 0.2 | E | 0.200 | 11.5 | 3.00x | 1.15 | 1.0 MiB |" in text
    assert speed_markdown([]) == ""
