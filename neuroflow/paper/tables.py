"""One generated table (:class:`Layout`), the column picking every table uses, and its files:
CSV (raw numbers), Markdown and LaTeX (rounded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Layout:
    """One generated table: file stem, paper item(s), caption and rows."""

    name: str
    item: str
    caption: str
    frame: pd.DataFrame


def pick_columns(
    frame: pd.DataFrame, columns: Mapping[str, str], percent: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The ``columns`` present in ``frame``, renamed; ``percent`` ones times 100."""
    present = [c for c in columns if c in frame]
    out = frame[present].copy()
    for col in percent:
        if col in out:
            out[col] = 100 * pd.to_numeric(out[col], errors="coerce")
    return out.rename(columns=columns).reset_index(drop=True)


def write_layout(layout: Layout, out_dir: str | Path) -> list[Path]:
    """Write ``<name>.csv`` (raw numbers), ``.md`` and ``.tex`` (rounded) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{layout.name}.{ext}" for ext in ("csv", "md", "tex")]
    layout.frame.to_csv(paths[0], index=False)
    paths[1].write_text(markdown(layout.frame) + "\n")
    paths[2].write_text(
        layout.frame.to_latex(
            index=False,
            float_format="%.4g",
            na_rep="--",
            escape=True,
            caption=layout.caption,
            label=f"tab:ours-{layout.name}",
        )
    )
    return paths


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table (4 significant digits, empty cells for missing values)."""
    # tabulate leaves NaN as "nan"; only None becomes the missing value.
    cells = frame.astype(object).where(frame.notna(), None)
    return cells.to_markdown(index=False, floatfmt=".4g", missingval="")
