"""The reproduction report: ``<out>/README.md`` with the coverage table of every paper item,
each generated table and figure; the tables under ``<out>/tables/``, figures under
``<out>/figures/``.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from neuroflow.paper.collect import Collected
from neuroflow.paper.coverage import ITEMS, PAPER_IDS
from neuroflow.paper.figures import FIGURES, draw_all
from neuroflow.paper.layouts import layouts
from neuroflow.paper.tables import Layout, markdown, write_layout

# Longest "our numbers" cell in the README's coverage table (the CSV holds the full text).
CELL_CHARS = 400


def coverage_frame(c: Collected) -> pd.DataFrame:
    """One row per paper item (and the rows beyond the paper): the report's coverage table."""
    rows = [
        {
            "item": i.id,
            "title": i.title,
            "paper": i.paper,
            "command": i.command,
            "offline counterpart": i.offline,
            "ours": i.our_numbers(c),
            "status": i.status(c),
        }
        for i in ITEMS
    ]
    return pd.DataFrame(rows)


def _cell(text: str, code: bool = False, limit: int | None = None) -> str:
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "… (full text: tables/coverage.csv)"
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if code else text


def _coverage_markdown(frame: pd.DataFrame) -> str:
    header = "| item | paper's numbers | command | offline counterpart | our numbers | status |"
    lines = [header, "|---|---|---|---|---|---|"]
    for row in frame.itertuples(index=False):
        cells = [
            f"**{row.item}** {_cell(row.title)}",
            _cell(row.paper),
            _cell(row.command, code=True),
            _cell(row[4], code=True),
            _cell(row.ours, limit=CELL_CHARS),
            _cell(row.status),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def regenerate_command(roots: Sequence[str], out: str, wandb_dir: str | None = None) -> str:
    """The one command that rewrites this report."""
    parts = ["neuroflow-paper", *sorted(roots), "--out", out]
    parts += ["--wandb-dir", wandb_dir] if wandb_dir else []
    return shlex.join(parts)


def _sources(c: Collected) -> str:
    counts = Counter(r.kind for r in c.runs)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no runs"
    folders = ", ".join(f"`{r}`" for r in c.roots)
    return f"Read {folders}: {kinds}."


def _tables_section(tables: Sequence[Layout]) -> list[str]:
    lines = ["## Tables", ""]
    if not tables:
        return [*lines, "No table: none of the given runs fills one.", ""]
    for t in tables:
        lines += [
            f"### {t.name} ({t.item})",
            "",
            f"{t.caption}. Files: [csv](tables/{t.name}.csv), [tex](tables/{t.name}.tex).",
            "",
            markdown(t.frame),
            "",
        ]
    return lines


def _figures_section(drawn: dict[str, Path | str]) -> list[str]:
    lines = ["## Figures", ""]
    lines += [  # a hand-written reading of the figures may sit beside the report
        "What each figure shows, in numbers: `findings.md` next to this file (when present).",
        "",
    ]
    for spec in FIGURES:
        result = drawn[spec.name]
        if isinstance(result, Path):
            lines += [
                f"### {spec.name} ({spec.item})",
                "",
                spec.shows,
                "",
                f"![{spec.name}](figures/{result.name})",
                "",
            ]
        else:
            lines += [f"### {spec.name} ({spec.item})", "", f"Not drawn: {result}.", ""]
    return lines


def write_report(
    c: Collected, out_dir: str | Path, command: str | None = None
) -> dict[str, list[Path]]:
    """Write the report, its tables and figures into ``out_dir`` (rerunnable: files are
    overwritten; stale figures of a previous run are removed).

    Args:
        c: The collected runs.
        out_dir: The output folder.
        command: The command that regenerates the report (shown first).

    Returns:
        ``{"readme": [...], "tables": [...], "figures": [...]}``: the files written.
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for stale in (out / "figures").glob("*.png"):
        stale.unlink()
    coverage = coverage_frame(c)
    order = {i.id: n for n, i in enumerate(ITEMS)}
    tables = sorted(layouts(c), key=lambda t: (order.get(t.item, len(order)), t.name))
    written = [p for t in tables for p in write_layout(t, out / "tables")]
    written += write_layout(
        Layout("coverage", "all", "Coverage of the paper", coverage), out / "tables"
    )
    drawn = draw_all(c, out / "figures")
    reproduced = sum(1 for i in ITEMS if i.id in PAPER_IDS and i.ours(c))
    lines = [
        "# Reproduction report: EMA-gated temporal sequence compression (NeuroFlow)",
        "",
        "Regenerate everything (tables, figures, this file) with one command:",
        "",
        f"```bash\n{command or regenerate_command(c.roots, str(out_dir))}\n```",
        "",
        _sources(c),
        f"Our numbers exist for {reproduced} of the paper's {len(PAPER_IDS)} tables and figures.",
        "",
        "## Coverage",
        "",
        "`/data` stands for the folder holding `UCF-101/` and `ucfTrainTestlist/`; "
        "`<distill run>` for a finished `neuroflow-distill` run directory.",
        "",
        _coverage_markdown(coverage),
        "",
        *_tables_section(tables),
        *_figures_section(drawn),
    ]
    readme = out / "README.md"
    readme.write_text("\n".join(lines))
    figures = sorted(p for p in drawn.values() if isinstance(p, Path))
    return {"readme": [readme], "tables": sorted(written), "figures": figures}
