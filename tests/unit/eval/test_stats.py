"""Statistics of per-clip hits: Wilson intervals, McNemar's exact test, paired bootstrap."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from neuroflow.eval.clip_eval import ClipRecord
from neuroflow.eval.stats import (
    accuracy_summary,
    mcnemar_test,
    paired_bootstrap,
    paired_comparison,
    wilson_interval,
)
from neuroflow.eval.summary import summarize
from neuroflow.glyphs.report import pooled


def _records(dense: np.ndarray, sparse: np.ndarray) -> list[ClipRecord]:
    """Per-clip records carrying only the top-1 hits that matter to the paired test."""
    return [
        ClipRecord(
            clip_id=f"c{i}",
            label=0,
            dense_pred=0,
            sparse_pred=0,
            dense_top1=bool(d),
            sparse_top1=bool(s),
            dense_top3=True,
            sparse_top3=True,
            fidelity=1.0,
            keep_fraction=0.5,
            skip_rate=0.5,
            skip_rate_after_first=0.5,
            dense_seconds=1.0,
            sparse_seconds=1.0,
        )
        for i, (d, s) in enumerate(zip(dense, sparse, strict=True))
    ]


def _pair(a_only: int, b_only: int, both: int = 5, neither: int = 3) -> tuple[np.ndarray, ...]:
    a = np.array([True] * a_only + [False] * b_only + [True] * both + [False] * neither)
    b = np.array([False] * a_only + [True] * b_only + [True] * both + [False] * neither)
    return a, b


def _every_caller(a: np.ndarray, b: np.ndarray) -> list[float]:
    """McNemar p-value of the same hits from each place that reports one."""
    results = {"v": {"hits": {"dense": a, "arch_c@0.1": a, "random@0.1": b}}}
    return [
        mcnemar_test(a, b)["pvalue"],
        paired_comparison(a, b)["mcnemar_p"],
        summarize(_records(a, b))["mcnemar"]["pvalue"],
        pooled(results, [0.1])[0]["paired"]["mcnemar_p"],
    ]


@pytest.mark.parametrize(("a_only", "b_only"), [(9, 0), (10, 2), (20, 10), (40, 25)])
def test_every_caller_gives_the_same_p_value(a_only, b_only):
    values = _every_caller(*_pair(a_only, b_only))
    assert len(set(values)) == 1, values


def test_offline_default_counts_give_the_exact_p_value():
    # Dense right and sparse wrong on 9 clips, never the other way: p = 2 / 2**9.
    res = mcnemar_test(*_pair(9, 0))
    assert (res["a_only"], res["b_only"]) == (9, 0)
    assert res["pvalue"] == pytest.approx(2 / 2**9) and round(res["pvalue"], 4) == 0.0039


@pytest.mark.parametrize(("a_only", "b_only"), [(20, 10), (40, 25), (3, 30)])
def test_many_discordant_pairs_stay_exact(a_only, b_only):
    # Above 25 discordant pairs the test is still the exact binomial one, not chi-square.
    res = mcnemar_test(*_pair(a_only, b_only))
    expected = binomtest(min(a_only, b_only), a_only + b_only, 0.5).pvalue
    assert res["pvalue"] == pytest.approx(expected, rel=1e-12)
    assert res["statistic"] == min(a_only, b_only)


def test_mcnemar_without_discordant_pairs_and_bad_input():
    res = mcnemar_test([True, False], [True, False])
    assert (res["a_only"], res["b_only"], res["pvalue"]) == (0, 0, 1.0)
    with pytest.raises(ValueError, match="equal-length"):
        mcnemar_test([True], [True, False])


def test_wilson_interval_hand_value():
    # Wilson score interval of 80/100 at 95%, from the formula with z = 1.959964.
    z, n, p = 1.959963984540054, 100, 0.8
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson_interval(80, 100)
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.7112, 0.8666)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_accuracy_summary():
    s = accuracy_summary([True, True, False, True])
    assert s["acc"] == 0.75 and s["n"] == 4 and s["ci_low"] < 0.75 < s["ci_high"]
    assert (s["ci_low"], s["ci_high"]) == wilson_interval(3, 4)
    empty = accuracy_summary([])
    assert empty["n"] == 0 and math.isnan(empty["acc"])


def test_identical_methods_are_not_separated():
    a = np.array([True, False] * 50)
    out = paired_comparison(a, a.copy())
    assert out["diff"] == 0 and out["ci95"] == [0.0, 0.0]
    assert out["mcnemar_p"] == 1.0 and not out["separated"]


def test_clear_advantage_is_separated():
    rng = np.random.default_rng(0)
    b = rng.random(400) < 0.6
    a = b | (rng.random(400) < 0.5)  # A fixes half of B's misses, never loses a clip
    out = paired_comparison(a, b)
    assert out["diff"] == pytest.approx(a.mean() - b.mean())
    assert out["b_only"] == 0 and out["a_only"] > 50
    assert out["separated"] and out["ci95"][0] > 0 and out["mcnemar_p"] < 1e-6


def test_discordant_counts_and_mcnemar_exact():
    a = np.array([1, 1, 1, 0, 0], bool)
    b = np.array([1, 0, 0, 0, 1], bool)
    out = paired_comparison(a, b)
    assert (out["a_only"], out["b_only"], out["n"]) == (2, 1, 5)
    assert out["mcnemar_p"] == pytest.approx(1.0)  # 3 discordant pairs, 2 vs 1


def test_bootstrap_interval_covers_the_difference_and_is_seeded():
    rng = np.random.default_rng(1)
    a, b = rng.random(200) < 0.7, rng.random(200) < 0.5
    low, high = paired_bootstrap(a, b, seed=3)
    assert low < a.mean() - b.mean() < high
    assert (low, high) == paired_bootstrap(a, b, seed=3)


def test_paired_comparison_rejects_bad_input():
    with pytest.raises(ValueError, match="equal-length"):
        paired_comparison(np.ones(3, bool), np.ones(4, bool))
    with pytest.raises(ValueError, match="at least one clip"):
        paired_comparison(np.ones(0, bool), np.ones(0, bool))
