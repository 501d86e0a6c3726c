"""Measurements from model outputs: top-k accuracy and hits, per-class rates, fidelity.

Accuracy comes from ``torchmetrics``; statistics on the resulting hits (intervals, paired
tests) live in :mod:`neuroflow.eval.stats`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics.functional.classification import multiclass_accuracy


def topk_accuracy(logits: Tensor, labels: Tensor, k: int) -> float:
    """Share of rows whose label is among the ``k`` highest logits (k capped at the classes).

    Args:
        logits: ``[B, C]`` class scores.
        labels: ``[B]`` class indices.
        k: Number of top classes that count as a hit.
    """
    classes = logits.shape[-1]
    return float(
        multiclass_accuracy(
            logits, labels, num_classes=classes, top_k=min(k, classes), average="micro"
        )
    )


def topk_hits(logits: Tensor, labels: Tensor, k: int) -> Tensor:
    """``[B]`` bool: the label is among the ``k`` highest logits (k capped at the classes).

    The per-clip records need a hit per row, which torchmetrics gives as the sample-wise
    accuracy over a trailing dimension of one (each row its own "sample").
    """
    classes = logits.shape[-1]
    per_row = multiclass_accuracy(
        logits[..., None],
        labels[:, None],
        num_classes=classes,
        top_k=min(k, classes),
        average="micro",
        multidim_average="samplewise",
    )
    return per_row > 0.5


def per_class_accuracy(labels: Sequence[int], hits: Sequence[bool]) -> dict[int, dict[str, float]]:
    """Accuracy and clip count per class label (classes without clips are left out)."""
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for label, hit in zip(labels, hits, strict=True):
        totals[int(label)][0] += int(bool(hit))
        totals[int(label)][1] += 1
    return {c: {"acc": k / n, "n": n} for c, (k, n) in sorted(totals.items())}


def cosine_fidelity(sparse: Tensor, dense: Tensor) -> Tensor:
    """Per-row cosine between sparse and dense embeddings (the paper's fidelity / 100)."""
    return torch.nn.functional.cosine_similarity(sparse.float(), dense.float(), dim=-1)
