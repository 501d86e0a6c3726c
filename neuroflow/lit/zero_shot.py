"""LightningModule that runs dense and sparse side by side on each batch of clips."""

from __future__ import annotations

from collections.abc import Sequence

import lightning.pytorch as pl
from torch import Tensor

from neuroflow.archs import Architecture
from neuroflow.core.schedules import Schedule
from neuroflow.data.records import describe_recovery
from neuroflow.eval.clip_eval import ClipRecord, Projection, evaluate_clips
from neuroflow.eval.summary import summarize
from neuroflow.eval.zeroshot import Aggregation, ZeroShotClassifier


def batch_recoveries(batch: dict) -> list[str]:
    """One recovery string per served clip of a batch (``""`` where none was needed).

    Every dataset the evaluator reads gives each item a ``policy`` dict (empty for clean
    clips); a batch without the key is from a dataset that never recovers anything.
    """
    policies = batch.get("policy") or [{}] * len(batch["clip_id"])
    return [describe_recovery(policy) for policy in policies]


class ZeroShotEvalModule(pl.LightningModule):
    """Zero-shot evaluation of a sparse architecture against dense on the same clips.

    Each test batch (``frames [B, T, 3, H, W]``, ``label [B]``, ``clip_id``, ``policy``) runs
    as ``B`` fresh streams, so every clip starts from a reset state. Each clip's ``policy``
    (its recoveries) is kept in its record's ``recovery``; failed clips of the batch
    (``batch["skipped"]``) go to :attr:`skipped`.

    Args:
        dense: Reference architecture.
        sparse: Architecture under test.
        classifier: Zero-shot classifier.
        project: Tower output to joint space (CLIP); None for SigLIP.
        schedule: Sparsity schedule for the sparse gate.
        aggregation: Clip aggregation (``mean``, ``last`` or ``logit_mean``).
        class_names: Names for per-class results.
    """

    def __init__(
        self,
        dense: Architecture,
        sparse: Architecture,
        classifier: ZeroShotClassifier,
        project: Projection | None = None,
        schedule: Schedule | None = None,
        aggregation: Aggregation = "mean",
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.dense, self.sparse = dense, sparse
        self.classifier, self.project = classifier, project
        self.schedule, self.aggregation = schedule, aggregation
        self.class_names = list(class_names) if class_names is not None else None
        self.records: list[ClipRecord] = []
        self.skipped: list[dict] = []
        self.summary: dict | None = None

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.skipped.extend(batch.get("skipped", []))
        frames: Tensor = batch["frames"]
        if frames.numel() == 0:
            return  # every clip of the batch failed to load; they are in self.skipped
        records = evaluate_clips(
            frames,
            batch["label"],
            list(batch["clip_id"]),
            self.dense,
            self.sparse,
            self.classifier,
            self.project,
            self.schedule,
            self.aggregation,
            batch_recoveries(batch),
        )
        self.records.extend(records)
        self.log(
            "test/sparse_top1",
            sum(r.sparse_top1 for r in records) / len(records),
            batch_size=len(records),
            prog_bar=True,
        )

    def on_test_epoch_end(self) -> None:
        if not self.records:
            return
        self.summary = summarize(self.records, self.class_names)
        for key in ("dense", "sparse"):
            self.log(f"test/{key}_top1_epoch", self.summary[key]["top1"]["acc"])
        self.log("test/fidelity", self.summary["fidelity"])
        self.log("test/skip_rate", self.summary["skip_rate"])
