"""Statistics of per-clip hits: Wilson intervals, McNemar's test, paired bootstrap.

Every caller that reports an interval or a paired test (the evaluation summary, the
moving-glyphs report) goes through this module, so the same hits always give the same
numbers.

McNemar's test is always the exact binomial test on the discordant pairs
(``statsmodels`` ``mcnemar(table, exact=True)``). The exact test is valid at every count,
while the chi-square approximation is only trustworthy with many discordant pairs; the
counts here are small (a few hundred clips, few of them discordant), and one policy means
one p-value per data set instead of two depending on where a cut-off falls.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

Hits = Sequence[bool] | np.ndarray


def wilson_interval(successes: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    Args:
        successes: Number of hits.
        total: Number of trials.
        level: Confidence level.

    Returns:
        ``(low, high)``; ``(nan, nan)`` when ``total`` is 0 (no data, no interval).
    """
    if total == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(int(successes), int(total), alpha=1 - level, method="wilson")
    return float(low), float(high)


def accuracy_summary(hits: Hits, level: float = 0.95) -> dict[str, float]:
    """Accuracy of per-clip hits with its Wilson interval.

    Returns:
        ``acc`` (nan without clips), ``ci_low``, ``ci_high`` and ``n``.
    """
    flags = np.asarray(hits, dtype=bool).reshape(-1)
    n, k = int(flags.size), int(flags.sum())
    low, high = wilson_interval(k, n, level)
    return {"acc": k / n if n else float("nan"), "ci_low": low, "ci_high": high, "n": n}


def _paired(a: Hits, b: Hits) -> tuple[np.ndarray, np.ndarray]:
    """Both hit lists as 1-D bool arrays; raises unless they pair up clip by clip."""
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"a paired test needs two equal-length 1-D hit arrays, got {x.shape} and {y.shape}"
        )
    return x, y


def mcnemar_test(a: Hits, b: Hits) -> dict[str, float]:
    """McNemar's exact test of two classifiers on the same clips.

    Args:
        a: Per-clip hits of method A.
        b: Per-clip hits of method B, same clips in the same order.

    Returns:
        ``a_only`` (A right, B wrong), ``b_only``, ``statistic`` (the smaller discordant
        count, the exact test's statistic) and ``pvalue`` (two-sided; 1.0 without
        discordant pairs).
    """
    x, y = _paired(a, b)
    a_only, b_only = int((x & ~y).sum()), int((~x & y).sum())
    table = [[int((x & y).sum()), a_only], [b_only, int((~x & ~y).sum())]]
    result = mcnemar(table, exact=True)
    return {
        "a_only": a_only,
        "b_only": b_only,
        "statistic": float(result.statistic),
        "pvalue": float(result.pvalue),
    }


def paired_bootstrap(
    a: Hits, b: Hits, resamples: int = 10000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile interval of ``mean(a) - mean(b)``, resampling clips with replacement.

    Clips are resampled as pairs, so the interval keeps the correlation between the two
    methods' hits on the same clip.
    """
    x, y = _paired(a, b)
    diff = x.astype(np.float64) - y.astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(resamples, diff.size))
    means = diff[idx].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_comparison(a: Hits, b: Hits, resamples: int = 10000, seed: int = 0) -> dict:
    """Compare per-clip hits ``a`` (method A) and ``b`` (method B) on the same clips.

    Returns:
        ``diff`` (accuracy of A minus B), its 95% paired-bootstrap interval ``ci95``, the
        discordant counts ``a_only`` / ``b_only``, McNemar's exact ``mcnemar_p``,
        ``separated`` (True when the interval excludes 0) and ``n``.
    """
    x, y = _paired(a, b)
    if x.size == 0:
        raise ValueError("a paired comparison needs at least one clip")
    low, high = paired_bootstrap(x, y, resamples, seed)
    test = mcnemar_test(x, y)
    return {
        "diff": float(x.mean() - y.mean()),
        "ci95": [low, high],
        "a_only": test["a_only"],
        "b_only": test["b_only"],
        "mcnemar_p": test["pvalue"],
        "separated": bool(low > 0 or high < 0),
        "n": int(x.size),
    }
