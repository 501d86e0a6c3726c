"""Our numbers for the language-model items: ``neuroflow-llm`` tables (T20-T22)."""

from __future__ import annotations

import pandas as pd

from neuroflow.paper.collect import Collected
from neuroflow.paper.ours import join_parts, model_tag, pct

# T21's claim: the bypass leaves perplexity alone from this gate threshold up.
SAFE_THRESHOLD = 0.65


def llm_similarity(c: Collected) -> str | None:
    """T20: the median per-layer similarity (neuroflow-llm)."""
    table = c.llm.get("llm_similarity")
    if table is None:
        return None
    cells = [f"L{int(r.layer)} {r.p50:.2f}" for r in table.sort_values("layer").itertuples()]
    return f"{model_tag(table)}median similarity {', '.join(cells)}"


def _finished(table: pd.DataFrame) -> pd.DataFrame:
    """The settings that ran to the end (``status`` ok; every row of a table without one)."""
    return table[table["status"] == "ok"] if "status" in table else table


def llm_perplexity(c: Collected) -> str | None:
    """T21: dense perplexity and the bypass change (neuroflow-llm)."""
    table = c.llm.get("llm_perplexity")
    if table is None:
        return None
    table = _finished(table)
    dense = table[table["config"] == "dense"]
    bypass = table[(table["config"] != "dense") & (table["config"] != "inverted")]
    safe = bypass[bypass["threshold"] >= SAFE_THRESHOLD]
    inverted = table[table["config"] == "inverted"]
    parts = [f"{model_tag(table)}dense PPL {', '.join(f'{p:.4g}' for p in dense['ppl'])}"]
    if not safe.empty:
        parts.append(
            f"dPPL {safe.delta_ppl_pct.min():+.1f}% to {safe.delta_ppl_pct.max():+.1f}% "
            f"at θ >= {SAFE_THRESHOLD:g} (gate/cache pairs but the inverted)"
        )
    if not inverted.empty:
        parts.append(
            f"inverted (cache L0) {inverted.delta_ppl_pct.min():+.0f}% to "
            f"{inverted.delta_ppl_pct.max():+.0f}%"
        )
    return join_parts(parts)


def llm_drift(c: Collected) -> str | None:
    """T22: token drift per domain over every bypass setting (neuroflow-llm)."""
    table = c.llm.get("llm_drift")
    if table is None:
        return None
    table = _finished(table)
    table = table[table["config"] != "dense"]
    cells = [
        f"{domain} {pct(part.drift.min())}-{pct(part.drift.max())}"
        for domain, part in table.groupby("domain", sort=True)
    ]
    return f"{model_tag(table)}drift over every setting: {', '.join(cells)}" if cells else None
