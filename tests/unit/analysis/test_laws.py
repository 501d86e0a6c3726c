"""Degradation, Saturation and Capacity law fits on constructed data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_1samp

from neuroflow.analysis.laws import capacity_law, degradation_law, hinge_residuals, saturation_law

# Paper T5: PE stretch and Arch C MaxSparse gap (pp) of six model/resolution points.
T5_STRETCH = [1.00, 1.04, 0.59, 1.00, 1.48, 2.07]
T5_GAP = [4.62, 4.25, 5.25, 5.25, 5.75, 6.00]


def _hits(n: int, misses: range | list[int]) -> np.ndarray:
    hits = np.ones(n, dtype=bool)
    hits[list(misses)] = False
    return hits


def test_the_papers_degradation_law_misses_its_stated_residual():
    table = hinge_residuals(T5_STRETCH, T5_GAP, intercept=4.5, slope=0.7)
    expected = [0.12, -0.278, 0.75, 0.75, 0.914, 0.751]
    np.testing.assert_allclose(table["residual_pp"], expected, atol=1e-9)
    # The paper claims a max residual of 0.4 pp; the T5 rows give 0.91 pp.
    assert table.attrs["max_abs_residual"] == pytest.approx(0.914)


def test_degradation_fit_recovers_an_exact_hinge_law():
    stretch = np.array([0.6, 1.0, 1.5, 2.0, 3.0])
    table = degradation_law(stretch, 4.0 + 2.0 * np.maximum(0, stretch - 1))
    fit = table.attrs["fit"]
    assert fit["intercept"] == pytest.approx(4.0)
    assert fit["slope"] == pytest.approx(2.0)
    assert fit["r2"] == pytest.approx(1.0)
    assert fit["max_abs_residual"] < 1e-9 and fit["n"] == 5
    np.testing.assert_allclose(table["fitted_pp"], table["gap_pp"])


def test_degradation_fit_on_t5_has_intervals_around_its_estimates():
    table = degradation_law(T5_STRETCH, T5_GAP)
    fit = table.attrs["fit"]
    for name in ("intercept", "slope"):
        low, high = fit[f"{name}_ci"]
        assert low < fit[name] < high
    np.testing.assert_allclose(table["residual_pp"], table["gap_pp"] - table["fitted_pp"])
    # OLS minimises squared residuals, so it beats the paper's stated law on that score.
    stated = hinge_residuals(T5_STRETCH, T5_GAP, 4.5, 0.7)["residual_pp"]
    assert (table["residual_pp"] ** 2).sum() < (stated**2).sum()
    # The slope's interval includes 0: six points do not establish the law.
    assert fit["slope_ci"][0] < 0 < fit["slope_ci"][1]


@pytest.mark.parametrize(
    ("stretch", "gap", "message"),
    [
        ([1.0, 2.0], [1.0], "equal-length"),
        ([2.0], [1.0], "at least 2"),
        ([0.5, 0.9, 1.0], [1.0, 2.0, 3.0], "not identified"),
    ],
)
def test_degradation_rejects_bad_points(stretch, gap, message):
    with pytest.raises(ValueError, match=message):
        degradation_law(stretch, gap)


def test_saturation_gaps_slope_and_tost_on_constructed_sweep():
    n = 2000
    dense = np.ones(n, dtype=bool)
    configs = {
        "low": (0.80, _hits(n, range(100))),  # gap 5.0 pp
        "high": (0.95, _hits(n, range(110))),  # gap 5.5 pp, the same clips plus 10
    }
    table = saturation_law(dense, configs, margin_pp=2.0, resamples=2000)
    np.testing.assert_allclose(table["gap_pp"], [5.0, 5.5])
    assert (table["gap_ci_low"] < table["gap_pp"]).all()
    assert (table["gap_pp"] < table["gap_ci_high"]).all()
    # What is tested: TOST of the per-clip gap minus the pooled per-clip gap, ±0.02.
    d = np.stack([dense.astype(float) - h for _, h in configs.values()])
    e = d[0] - d.mean(axis=0)
    p_low = ttest_1samp(e, -0.02, alternative="greater").pvalue
    p_high = ttest_1samp(e, 0.02, alternative="less").pvalue
    assert table["tost_p"].iloc[0] == pytest.approx(max(p_low, p_high))
    assert table["equivalent"].all()
    fit = table.attrs["fit"]
    assert fit["slope_pp_per_skip"] == pytest.approx(0.5 / 0.15)
    assert fit["slope_ci"][0] < fit["slope_pp_per_skip"] < fit["slope_ci"][1]
    assert fit["gap_mean"] == pytest.approx(5.25)
    assert fit["gap_std"] == pytest.approx(0.25)  # population std, as in the paper
    assert fit["margin_pp"] == 2.0


def test_saturation_flags_a_gap_that_moves_with_skip():
    n = 100
    dense = np.ones(n, dtype=bool)
    configs = {f"s{k}": (skip, _hits(n, range(k * 20))) for k, skip in enumerate([0.5, 0.6, 0.7])}
    table = saturation_law(dense, configs, resamples=500)
    np.testing.assert_allclose(table["gap_pp"], [0.0, 20.0, 40.0])
    # The outer gaps sit 20 pp from the pooled mean. The middle one equals it, yet on 100
    # clips its paired differences are too noisy to show equivalence within 2 pp: no
    # difference is not evidence of equivalence.
    assert table["tost_p"].iloc[0] > 0.99 and table["tost_p"].iloc[2] > 0.99
    assert 0.05 < table["tost_p"].iloc[1] < 0.99
    assert not table["equivalent"].any()
    fit = table.attrs["fit"]
    assert fit["slope_pp_per_skip"] == pytest.approx(200.0)
    assert fit["slope_ci"][0] > 0


def test_saturation_rejects_unpaired_or_degenerate_sweeps():
    dense = np.ones(10, dtype=bool)
    with pytest.raises(ValueError, match="at least 2 configurations"):
        saturation_law(dense, {"a": (0.5, dense)})
    with pytest.raises(ValueError, match="same clips"):
        saturation_law(dense, {"a": (0.5, dense), "b": (0.6, dense[:5])})
    with pytest.raises(ValueError, match="distinct skip"):
        saturation_law(dense, {"a": (0.5, dense), "b": (0.5, dense)})
    with pytest.raises(ValueError, match="share"):
        saturation_law(dense, {"a": (50.0, dense), "b": (60.0, dense)})
    with pytest.raises(ValueError, match="bool"):
        saturation_law(dense, {"a": (0.5, np.full(10, 0.5)), "b": (0.6, dense)})


def test_capacity_law_exact_counts_and_status():
    small = _hits(100, range(30))  # 70% dense accuracy
    big = {
        "dense": (0.0, _hits(100, range(10))),  # 20 clips right only for big
        "sparse": (0.9, _hits(100, range(27))),  # 3 clips right only for big
    }
    table = capacity_law(big, small, big_model="so400m", small_model="base", resamples=2000)
    assert table["diff_pp"].tolist() == pytest.approx([20.0, 3.0])
    assert table["acc_big_sparse"].tolist() == pytest.approx([0.9, 0.73])
    assert (table["acc_small_dense"] == 0.7).all()
    assert table["big_only"].tolist() == [20, 3] and (table["small_only"] == 0).all()
    # One-sided exact test on discordant pairs: all k of k go to the big model, p = 0.5^k.
    assert table["p_one_sided"].tolist() == pytest.approx([0.5**20, 0.5**3])
    assert table["status"].tolist() == ["dominant", "not dominant"]
    assert table["diff_ci_low"].iloc[0] > 0 and table["diff_ci_low"].iloc[1] <= 0
    assert (table["big_model"] == "so400m").all()


def test_capacity_law_without_discordant_pairs_has_p_one():
    hits = _hits(20, range(5))
    table = capacity_law({"same": (0.5, hits)}, hits, resamples=200)
    assert table["p_one_sided"].iloc[0] == 1.0
    assert table["diff_pp"].iloc[0] == 0.0 and table["status"].iloc[0] == "not dominant"
    with pytest.raises(ValueError, match="same clips"):
        capacity_law({"short": (0.5, hits[:3])}, hits)
