import math

import pytest
import torch

from neuroflow.eval.metrics import (
    accuracy_summary,
    mcnemar_paired,
    per_class_accuracy,
    topk_hits,
    wilson_interval,
)


def test_topk_hits():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3]])
    labels = torch.tensor([0, 2])
    assert topk_hits(logits, labels, 1).tolist() == [False, False]
    assert topk_hits(logits, labels, 2).tolist() == [True, True]
    assert topk_hits(logits, labels, 10).tolist() == [True, True]


def test_wilson_interval_known_value():
    low, high = wilson_interval(80, 100)
    assert math.isclose(low, 0.7112, abs_tol=1e-3) and math.isclose(high, 0.8666, abs_tol=1e-3)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_accuracy_summary():
    s = accuracy_summary([True, True, False, True])
    assert s["acc"] == 0.75 and s["n"] == 4 and s["ci_low"] < 0.75 < s["ci_high"]


def test_mcnemar_counts_discordant_pairs():
    a = [True] * 10 + [False] * 2 + [True] * 5
    b = [False] * 10 + [True] * 2 + [True] * 5
    res = mcnemar_paired(a, b)
    assert (res["a_only"], res["b_only"]) == (10, 2)
    assert res["pvalue"] < 0.05
    assert mcnemar_paired([True, False], [True, False])["pvalue"] == 1.0
    with pytest.raises(ValueError, match="equal lengths"):
        mcnemar_paired([True], [True, False])


def test_per_class_accuracy():
    res = per_class_accuracy([0, 0, 1], [True, False, True])
    assert res == {0: {"acc": 0.5, "n": 2}, 1: {"acc": 1.0, "n": 1}}
