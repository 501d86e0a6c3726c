"""The paper's laws as fits and tests: Degradation, Saturation and Capacity.

The paper states each law from a handful of table rows (T5, T6, T8) without a test. Here
each becomes a table with intervals:

* Degradation: ``gap = a + b * max(0, stretch - 1)`` by OLS with 95% intervals, and the
  residuals of a stated law (the paper's ``4.5 + 0.7 * max(0, s - 1)``) to check its claim.
* Saturation: the gap per skip configuration with a paired interval, a paired equivalence
  test (TOST) of each configuration against the pooled gap, and the slope of gap on skip.
* Capacity: a big model run sparsely against a small dense one on the same clips, with a
  paired interval and a one-sided exact test.

Accuracies are shares in [0, 1]; gaps and differences are in percentage points (pp).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import binomtest
from statsmodels.stats.weightstats import ttost_paired

from neuroflow.eval.stats import Hits, paired_bootstrap, paired_comparison

LEVEL = 0.95

# A configuration of a sweep: its measured skip rate and its per-clip hits.
Config = tuple[float, Hits]


def _points(stretch: Sequence[float], gap_pp: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Both as 1-D float arrays of equal length, finite values only."""
    x, y = np.asarray(stretch, dtype=np.float64), np.asarray(gap_pp, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"stretch and gap_pp must be equal-length 1-D, got {x.shape}, {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("stretch and gap_pp must be finite")
    return x, y


def _hinge(stretch: np.ndarray) -> np.ndarray:
    """``max(0, stretch - 1)``: stretch above the native position-embedding grid."""
    return np.maximum(0.0, stretch - 1.0)


def _point_rows(x: np.ndarray, y: np.ndarray, fitted: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"stretch": x, "gap_pp": y, "fitted_pp": fitted, "residual_pp": y - fitted})


def hinge_residuals(
    stretch: Sequence[float], gap_pp: Sequence[float], intercept: float, slope: float
) -> pd.DataFrame:
    """Residuals of a stated hinge law ``gap = intercept + slope * max(0, stretch - 1)``.

    Checks a law as published, without refitting (e.g. the paper's 4.5 + 0.7 * hinge).

    Returns:
        One row per point (``stretch``, ``gap_pp``, ``fitted_pp``, ``residual_pp`` =
        observed - law); ``attrs["max_abs_residual"]`` is the largest absolute residual.
    """
    x, y = _points(stretch, gap_pp)
    table = _point_rows(x, y, intercept + slope * _hinge(x))
    table.attrs["max_abs_residual"] = float(table["residual_pp"].abs().max()) if len(x) else np.nan
    return table


def degradation_law(stretch: Sequence[float], gap_pp: Sequence[float]) -> pd.DataFrame:
    """Fit the Degradation Law ``gap = a + b * max(0, stretch - 1)`` by OLS.

    Args:
        stretch: Position-embedding stretch per point (target grid / native grid).
        gap_pp: Dense minus sparse top-1 per point, in pp.

    Returns:
        One row per point (``stretch``, ``gap_pp``, ``fitted_pp``, ``residual_pp``);
        ``attrs["fit"]`` holds ``intercept``, ``slope``, their 95% intervals
        ``intercept_ci`` / ``slope_ci`` (nan with only 2 points: no residual degrees of
        freedom), ``r2``, ``max_abs_residual`` and ``n``.

    Raises:
        ValueError: Unequal lengths, fewer than 2 points, or fewer than 2 distinct hinge
            values (the slope is then not identified, e.g. no point above stretch 1).
    """
    x, y = _points(stretch, gap_pp)
    hinge = _hinge(x)
    if x.size < 2:
        raise ValueError(f"a law fit needs at least 2 points, got {x.size}")
    if np.unique(hinge).size < 2:
        raise ValueError("the slope is not identified: max(0, stretch - 1) takes one value only")
    result = sm.OLS(y, sm.add_constant(hinge)).fit()
    # Two points fit exactly: no residual degrees of freedom, so no interval.
    ci = np.full((2, 2), np.nan)
    if result.df_resid > 0:
        ci = np.asarray(result.conf_int(alpha=1 - LEVEL))
    table = _point_rows(x, y, np.asarray(result.fittedvalues))
    table.attrs["fit"] = {
        "intercept": float(result.params[0]),
        "slope": float(result.params[1]),
        "intercept_ci": [float(v) for v in ci[0]],
        "slope_ci": [float(v) for v in ci[1]],
        "r2": float(result.rsquared),
        "max_abs_residual": float(table["residual_pp"].abs().max()),
        "n": int(x.size),
    }
    return table


def _hits(hits: Hits, name: str, n: int | None = None) -> np.ndarray:
    """Per-clip hits as a 1-D bool array; bool (or 0/1) only, of length ``n`` when given."""
    arr = np.asarray(hits)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: hits must be a non-empty 1-D array, got shape {arr.shape}")
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name}: hits must be bool (or 0/1), got values of dtype {arr.dtype}")
    if n is not None and arr.size != n:
        raise ValueError(f"{name}: {arr.size} hits, but the reference has {n} (same clips needed)")
    return arr.astype(bool)


def _configs(configs: Mapping[str, Config], n: int) -> dict[str, tuple[float, np.ndarray]]:
    out = {}
    for label, (skip, hits) in configs.items():
        if not 0.0 <= skip <= 1.0:  # a share, so slopes are per unit of skip share
            raise ValueError(f"{label}: skip must be a share in [0, 1], got {skip}")
        out[label] = (float(skip), _hits(hits, label, n))
    return out


def saturation_law(
    dense_hits: Hits,
    configs: Mapping[str, Config],
    margin_pp: float = 2.0,
    resamples: int = 10000,
    seed: int = 0,
) -> pd.DataFrame:
    """Test the Saturation Law: the sparse gap does not depend on the skip rate.

    Every configuration is evaluated on the same clips as ``dense_hits``, so every
    comparison is paired. Per clip ``i`` and configuration ``c`` the gap is
    ``d_ci = dense_i - sparse_ci`` (-1, 0 or 1); the configuration's gap is its mean.

    What is tested: for each configuration, the per-clip differences
    ``e_ci = d_ci - mean_k d_ki`` (its gap minus the pooled gap over all configurations,
    this one included) go through a paired two one-sided tests procedure (TOST,
    ``statsmodels`` ``ttost_paired``) with bounds ``±margin_pp / 100``. A small ``tost_p``
    rejects "this configuration's gap differs from the pooled gap by at least the margin",
    which is evidence *for* equivalence. The paper instead called the gaps equal because
    their spread lay within an unpaired 95% interval; a non-significant difference is
    absence of evidence, not evidence of absence, and an unpaired interval ignores that
    the configurations share clips (clip difficulty cancels in the paired ``e_ci``).

    The slope of gap on skip is fitted on clip-level data (``100 * d_ci`` on ``skip_c``)
    with standard errors clustered by clip; with every configuration on the same clips its
    point estimate equals the OLS slope of the configuration gaps on skip, while its
    interval accounts for the pairing.

    Args:
        dense_hits: ``[n]`` per-clip hits of the dense model.
        configs: label -> ``(skip, hits)``: measured skip share (0-1) and ``[n]`` hits.
        margin_pp: Equivalence margin in pp.
        resamples: Bootstrap resamples of each gap's paired interval.
        seed: Bootstrap seed.

    Returns:
        One row per configuration: ``label``, ``skip``, ``gap_pp``, ``gap_ci_low``,
        ``gap_ci_high`` (paired-bootstrap 95%), ``tost_p``, ``equivalent`` (tost_p < 0.05),
        ``clips``. ``attrs["fit"]``: ``slope_pp_per_skip`` (pp per unit share of skip),
        ``slope_ci``, ``slope_p``, ``margin_pp``, ``gap_mean`` and ``gap_std`` (population
        std over configurations, as in the paper's T6), ``configs``, ``clips``.

    Raises:
        ValueError: Fewer than 2 configurations, fewer than 2 distinct skips, hits of
            unequal length or not bool, or a non-positive margin.
    """
    dense = _hits(dense_hits, "dense_hits")
    sweep = _configs(configs, dense.size)
    if len(sweep) < 2:
        raise ValueError(f"the saturation law needs at least 2 configurations, got {len(sweep)}")
    if margin_pp <= 0:
        raise ValueError(f"margin_pp must be positive, got {margin_pp}")
    skips = np.array([skip for skip, _ in sweep.values()])
    if np.unique(skips).size < 2:
        raise ValueError("the slope of gap on skip needs at least 2 distinct skip values")
    # d[c, i]: dense minus sparse hit of clip i under configuration c.
    d = np.stack([dense.astype(np.float64) - hits for _, hits in sweep.values()])
    pooled = d.mean(axis=0)
    margin = margin_pp / 100.0
    rows = []
    for (label, (skip, hits)), d_c in zip(sweep.items(), d, strict=True):
        low, high = paired_bootstrap(dense, hits, resamples, seed)
        # Zero variance (every e_ci equal) gives an infinite t and an exact p of 0 or 1.
        with np.errstate(divide="ignore", invalid="ignore"):
            tost_p = float(ttost_paired(d_c, pooled, -margin, margin)[0])
        rows.append(
            {
                "label": label,
                "skip": skip,
                "gap_pp": 100.0 * d_c.mean(),
                "gap_ci_low": 100.0 * low,
                "gap_ci_high": 100.0 * high,
                "tost_p": tost_p,
                "equivalent": bool(tost_p < 1 - LEVEL),
                "clips": int(dense.size),
            }
        )
    table = pd.DataFrame(rows)
    clip_ids = np.tile(np.arange(dense.size), len(sweep))
    x = sm.add_constant(np.repeat(skips, dense.size))
    fit = sm.OLS(100.0 * d.reshape(-1), x).fit(cov_type="cluster", cov_kwds={"groups": clip_ids})
    slope_ci = np.asarray(fit.conf_int(alpha=1 - LEVEL))[1]
    table.attrs["fit"] = {
        "slope_pp_per_skip": float(fit.params[1]),
        "slope_ci": [float(v) for v in slope_ci],
        "slope_p": float(fit.pvalues[1]),
        "margin_pp": float(margin_pp),
        "gap_mean": float(table["gap_pp"].mean()),
        "gap_std": float(table["gap_pp"].std(ddof=0)),
        "configs": len(sweep),
        "clips": int(dense.size),
    }
    return table


def capacity_law(
    big_sparse: Mapping[str, Config],
    small_dense_hits: Hits,
    big_model: str = "big",
    small_model: str = "small",
    resamples: int = 10000,
    seed: int = 0,
) -> pd.DataFrame:
    """Test the Capacity Law: a bigger model run sparsely beats a smaller dense model.

    Per configuration, on the same clips: the accuracy difference (big sparse minus small
    dense) with a paired-bootstrap 95% interval (clips resampled as pairs) and a one-sided
    exact test of "big is better" on the discordant pairs (binomial test of the clips only
    the big model gets right among all clips exactly one model gets right; McNemar's exact
    test, one-sided; p = 1 without discordant pairs).

    Args:
        big_sparse: label -> ``(skip, hits)`` of the big model per configuration.
        small_dense_hits: ``[n]`` per-clip hits of the small dense model.
        big_model: Name of the big model (a column).
        small_model: Name of the small model (a column).
        resamples: Bootstrap resamples.
        seed: Bootstrap seed.

    Returns:
        One row per configuration: ``label``, ``skip``, ``acc_big_sparse``,
        ``acc_small_dense``, ``diff_pp``, ``diff_ci_low``, ``diff_ci_high``,
        ``p_one_sided``, ``status`` ("dominant" when the interval's low end is above 0,
        else "not dominant"), then ``big_only``, ``small_only``, ``clips``, ``big_model``,
        ``small_model``.

    Raises:
        ValueError: No configuration, or hits of unequal length or not bool.
    """
    small = _hits(small_dense_hits, "small_dense_hits")
    sweep = _configs(big_sparse, small.size)
    if not sweep:
        raise ValueError("the capacity law needs at least one configuration")
    rows = []
    for label, (skip, hits) in sweep.items():
        cmp = paired_comparison(hits, small, resamples, seed)
        discordant = cmp["a_only"] + cmp["b_only"]
        p = 1.0
        if discordant:
            p = binomtest(cmp["a_only"], discordant, 0.5, alternative="greater").pvalue
        low, high = cmp["ci95"]
        rows.append(
            {
                "label": label,
                "skip": skip,
                "acc_big_sparse": float(hits.mean()),
                "acc_small_dense": float(small.mean()),
                "diff_pp": 100.0 * cmp["diff"],
                "diff_ci_low": 100.0 * low,
                "diff_ci_high": 100.0 * high,
                "p_one_sided": float(p),
                "status": "dominant" if low > 0 else "not dominant",
                "big_only": cmp["a_only"],
                "small_only": cmp["b_only"],
                "clips": int(small.size),
                "big_model": big_model,
                "small_model": small_model,
            }
        )
    return pd.DataFrame(rows)
