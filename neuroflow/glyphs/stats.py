"""Paired comparison of two methods on the same clips: difference, bootstrap CI, McNemar.

Both methods see the same clips, so their per-clip hits are paired. The accuracy
difference gets a percentile interval from a paired bootstrap over clips, and McNemar's
exact test (statsmodels) on the discordant pairs says whether the methods differ at all.
Accuracies carry Wilson intervals (statsmodels).
"""

from __future__ import annotations

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint


def wilson(hits: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of the hit rate of a bool array."""
    low, high = proportion_confint(int(hits.sum()), int(hits.size), alpha=alpha, method="wilson")
    return float(low), float(high)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, resamples: int = 10000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile interval of ``mean(a) - mean(b)`` resampling clips with replacement."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(resamples, diff.size))
    means = diff[idx].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_comparison(a: np.ndarray, b: np.ndarray, resamples: int = 10000, seed: int = 0) -> dict:
    """Compare per-clip hits ``a`` (method A) and ``b`` (method B) on the same clips.

    Returns:
        ``diff`` (accuracy of A minus B), its 95% paired-bootstrap interval, the discordant
        counts (``a_only``: A right and B wrong; ``b_only``), McNemar's exact p-value, and
        ``separated`` (True when the interval excludes 0).
    """
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"need two equal-length 1-D hit arrays, got {a.shape} and {b.shape}")
    low, high = paired_bootstrap(a, b, resamples, seed)
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    table = [[int((a & b).sum()), a_only], [b_only, int((~a & ~b).sum())]]
    p_value = float(mcnemar(table, exact=True).pvalue)
    return {
        "diff": float(a.mean() - b.mean()),
        "ci95": [low, high],
        "a_only": a_only,
        "b_only": b_only,
        "mcnemar_p": p_value,
        "separated": bool(low > 0 or high < 0),
        "n": int(a.size),
    }
