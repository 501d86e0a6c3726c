"""Measurements from model outputs: top-k hits and accuracy, per-class rates, fidelity."""

import pytest
import torch

from neuroflow.eval.metrics import cosine_fidelity, per_class_accuracy, topk_accuracy, topk_hits


def test_topk_hits():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3]])
    labels = torch.tensor([0, 2])
    assert topk_hits(logits, labels, 1).tolist() == [False, False]
    assert topk_hits(logits, labels, 2).tolist() == [True, True]
    assert topk_hits(logits, labels, 10).tolist() == [True, True]


@pytest.mark.parametrize("k", [1, 3, 5, 20])
def test_per_row_hits_agree_with_aggregate_accuracy_and_topk(k):
    gen = torch.Generator().manual_seed(k)
    logits = torch.randn(257, 10, generator=gen)
    labels = torch.randint(0, 10, (257,), generator=gen)
    hits = topk_hits(logits, labels, k)
    reference = (logits.topk(min(k, 10), dim=-1).indices == labels[:, None]).any(dim=-1)
    assert hits.dtype == torch.bool and torch.equal(hits, reference)
    assert topk_accuracy(logits, labels, k) == pytest.approx(float(hits.float().mean()))


def test_per_class_accuracy():
    res = per_class_accuracy([0, 0, 1], [True, False, True])
    assert res == {0: {"acc": 0.5, "n": 2}, 1: {"acc": 1.0, "n": 1}}


def test_cosine_fidelity():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[2.0, 0.0], [1.0, 0.0]])
    assert cosine_fidelity(a, b).tolist() == pytest.approx([1.0, 0.0])
