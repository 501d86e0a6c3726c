"""Accuracy statistics: top-k hits, Wilson intervals, McNemar's paired test, per-class rates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint
from torch import Tensor


def topk_hits(logits: Tensor, labels: Tensor, k: int) -> Tensor:
    """``[B]`` bool: the label is among the ``k`` highest logits (k capped at the class count)."""
    k = min(k, logits.shape[-1])
    return (logits.topk(k, dim=-1).indices == labels[:, None]).any(dim=-1)


def wilson_interval(successes: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (``(nan, nan)`` when ``total`` is 0)."""
    if total == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(successes, total, alpha=1 - level, method="wilson")
    return float(low), float(high)


def accuracy_summary(hits: Sequence[bool], level: float = 0.95) -> dict[str, float]:
    """Accuracy of a list of per-clip hits with its Wilson interval."""
    n, k = len(hits), int(sum(bool(h) for h in hits))
    low, high = wilson_interval(k, n, level)
    return {"acc": k / n if n else float("nan"), "ci_low": low, "ci_high": high, "n": n}


def mcnemar_paired(a: Sequence[bool], b: Sequence[bool]) -> dict[str, float]:
    """McNemar's test of two classifiers on the same clips.

    Uses the exact binomial test when there are fewer than 25 discordant pairs, the
    continuity-corrected chi-square otherwise.

    Returns:
        ``a_only`` / ``b_only`` (discordant counts), ``statistic`` and ``pvalue``.
    """
    if len(a) != len(b):
        raise ValueError(f"paired test needs equal lengths, got {len(a)} and {len(b)}")
    table = [[0, 0], [0, 0]]
    for x, y in zip(a, b, strict=True):
        table[0 if x else 1][0 if y else 1] += 1
    discordant = table[0][1] + table[1][0]
    if discordant == 0:
        return {"a_only": 0, "b_only": 0, "statistic": 0.0, "pvalue": 1.0}
    result = mcnemar(table, exact=discordant < 25, correction=True)
    return {
        "a_only": table[0][1],
        "b_only": table[1][0],
        "statistic": float(result.statistic),
        "pvalue": float(result.pvalue),
    }


def per_class_accuracy(labels: Sequence[int], hits: Sequence[bool]) -> dict[int, dict[str, float]]:
    """Accuracy and clip count per class label."""
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for label, hit in zip(labels, hits, strict=True):
        totals[int(label)][0] += int(bool(hit))
        totals[int(label)][1] += 1
    return {c: {"acc": k / n, "n": n} for c, (k, n) in sorted(totals.items())}


def cosine_fidelity(sparse: Tensor, dense: Tensor) -> Tensor:
    """Per-row cosine between sparse and dense embeddings (the paper's fidelity / 100)."""
    return torch.nn.functional.cosine_similarity(sparse.float(), dense.float(), dim=-1)
