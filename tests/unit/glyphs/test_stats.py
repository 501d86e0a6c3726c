"""Paired comparison statistics."""

import numpy as np
import pytest

from neuroflow.glyphs.stats import paired_bootstrap, paired_comparison, wilson


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


def test_wilson_and_bad_input():
    low, high = wilson(np.array([True] * 90 + [False] * 10))
    assert low < 0.9 < high and high < 1.0
    with pytest.raises(ValueError, match="equal-length"):
        paired_comparison(np.ones(3, bool), np.ones(4, bool))
