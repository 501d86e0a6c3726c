"""What a distillation run prints: the original and the student, dense and sparse, side by side."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

_MIN_WIDTH = 120  # rich falls back to 80 columns when stdout is not a terminal


def _pct(value: float) -> str:
    return f"{value:.3f}"


def headline(summary: dict) -> str:
    """``sparse 0.405 -> 0.970, dense 1.000 -> 1.000`` at the operating point."""
    ba = summary["test"]["before_after"]
    sparse = next(v for k, v in ba.items() if k != "dense")
    dense = ba["dense"]
    return (
        f"sparse {sparse['before']['acc']:.3f} -> {sparse['after']['acc']:.3f}, "
        f"dense {dense['before']['acc']:.3f} -> {dense['after']['acc']:.3f}"
    )


def print_report(summary: dict, title: str) -> None:
    """The test table, the paired before/after differences and the adapter's size."""
    table = Table(title=title)
    for column in (
        "model",
        "path",
        "top-1 [95% CI]",
        "retention",
        "fid. vs original",
        "fid. vs own dense",
        "keep",
    ):
        table.add_column(column, justify="left" if column in ("model", "path") else "right")
    for r in summary["test"]["rows"]:
        table.add_row(
            r["model"],
            r["path"],
            f"{_pct(r['top1'])} [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]",
            _pct(r["retention"]),
            f"{r['fidelity_original']:.4f}",
            f"{r['fidelity_dense']:.4f}",
            f"{r['keep_fraction']:.3f}",
        )
    console = Console(width=max(Console().width, _MIN_WIDTH))
    console.print(table)
    for path, v in summary["test"]["before_after"].items():
        d = v["difference"]
        console.print(
            f"{path}: student - original {d['diff']:+.3f} [{d['ci95'][0]:+.3f}, "
            f"{d['ci95'][1]:+.3f}], McNemar p={d['mcnemar_p']:.2e}"
        )
    adapter = summary.get("adapter")
    if adapter:
        console.print(
            f"adapter: {adapter['path']} ({adapter['bytes']:,} bytes, "
            f"{100 * adapter['ratio']:.1f}% of the vision tower)"
        )


def validation_rows(history: list[dict]) -> list[dict]:
    """Every validation's summary rows, flattened with their global step (for the CSV)."""
    return [{"step": entry["step"], **row} for entry in history for row in entry["rows"]]
