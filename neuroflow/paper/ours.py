"""What every "our numbers" text is made of: percentages, row selection, speedup lists.

Each item's text comes from a function of :mod:`~neuroflow.paper.ours_accuracy`,
:mod:`~neuroflow.paper.ours_speed` or :mod:`~neuroflow.paper.ours_llm`: it takes a
:class:`~neuroflow.paper.collect.Collected` and returns a short text (the model named in
brackets) or None when no run it reads was given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from neuroflow.paper.collect import Collected


def pct(value: float) -> str:
    """``0.7155`` -> ``"71.5%"``."""
    return f"{100 * value:.1f}%"


def known(value: Any) -> bool:
    """True for a number that is not None or NaN."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def join_parts(parts: Iterable[str | None]) -> str | None:
    """The non-empty ``parts`` joined by ``"; "``, or None when there is none."""
    text = "; ".join(p for p in parts if p)
    return text or None


def model_tag(frame: pd.DataFrame) -> str:
    """``"[model, ...] "`` of the models in ``frame``'s ``model`` column (empty: none)."""
    models = sorted({str(m) for m in frame.get("model", pd.Series(dtype=object)).dropna()})
    return f"[{', '.join(models)}] " if models else ""


def analysis_table(c: Collected, name: str) -> tuple[pd.DataFrame | None, str]:
    """An analysis table (its first run's rows) and the ``"[model] "`` tag of that run."""
    table = c.table(name)
    if table is None:
        return None, ""
    first = c.analysis[name]["run"].iloc[0]
    run = next(r for r in c.runs if r.label == first)
    source = ((run.data.get("identity") or {}).get("model") or {}).get("source")
    return table, f"[{source}] " if source else ""


def eval_rows(c: Collected, *archs: str) -> pd.DataFrame | None:
    """Evaluation rows of ``archs`` (all when none) by arch and skip, or None: no such row."""
    ev = c.eval
    if ev is None or "arch" not in ev:
        return None
    rows = ev[ev["arch"].isin(archs)] if archs else ev
    return None if rows.empty else rows.sort_values(["arch", "skip_rate"], kind="stable")


def eval_row_text(row: pd.Series) -> str:
    """``"C θ=0.35: 60.0% at 90.0% skip"``: one evaluation run's setting and top-1."""
    name = str(row["arch"])
    layers = row.get("method.dense_layers")
    name += f" dense_layers={int(layers)}" if known(layers) else ""
    name += f" θ={row['threshold']:g}" if known(row.get("threshold")) else ""
    text = f"{name}: {pct(row['sparse_top1'])}"
    return text + (f" at {pct(row['skip_rate'])} skip" if known(row.get("skip_rate")) else "")


def dense_text(rows: pd.DataFrame) -> str:
    """``"dense 90.0%"``: the dense top-1 of the first evaluation row."""
    return f"dense {pct(rows['dense_top1'].iloc[0])}"


def bench_rows(c: Collected, *prefixes: str) -> pd.DataFrame | None:
    """Benchmark rows whose method starts with one of ``prefixes`` (all when none)."""
    bench = c.bench
    if bench is None:
        return None
    method = bench["method"].astype(str)
    rows = bench[method.str.startswith(prefixes)] if prefixes else bench
    return None if rows.empty else rows


def speedups(rows: pd.DataFrame, with_k: bool = False) -> str:
    """``[model] method: 224 px 1.02x, 448 px 1.92x`` per model, method (and target keep).

    Args:
        rows: Benchmark rows (``method``, ``target_keep``, ``resolution``, ``speedup``, ``k``).
        with_k: Also give the keep fraction each speedup was timed at.
    """
    parts = []
    rows = rows.assign(model=rows["model"] if "model" in rows else "", _k=rows["target_keep"])
    for (model, method, target), part in rows.groupby(["model", "method", "_k"], dropna=False):
        name = f"[{model}] {method}" if model else str(method)
        name += f" k={target:g}" if known(target) else ""
        cells = [
            f"{int(r.resolution)} px {r.speedup:.2f}x" + (f" (k {r.k:.2f})" if with_k else "")
            for r in part.sort_values("resolution").itertuples()
        ]
        parts.append(f"{name}: {', '.join(cells)}")
    return "; ".join(parts)
