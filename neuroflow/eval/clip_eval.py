"""Dense vs sparse on the same clips: one batch of clips runs as a batch of streams.

For a batch of ``B`` clips ``[B, T, 3, H, W]`` both architectures start from fresh state
(the per-clip reset), see the same frames in the same order, and their per-frame pooled
embeddings are turned into clip predictions by a zero-shot classifier. The result is one
:class:`ClipRecord` per clip: predictions, hits, fidelity, skip rate and wall time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from neuroflow.archs import Architecture
from neuroflow.core.schedules import Schedule
from neuroflow.eval.clip_loop import Projection, stream_clips
from neuroflow.eval.metrics import cosine_fidelity, topk_hits
from neuroflow.eval.zeroshot import Aggregation, ZeroShotClassifier, clip_logits


@dataclass
class ClipRecord:
    """Per-clip outcome of a dense-vs-sparse evaluation (one CSV row).

    ``recovery`` says what the data layer did to make the clip usable (frames repeated,
    short decode, colour conversion), so a number in the results can be traced to it.
    """

    clip_id: str
    label: int
    dense_pred: int
    sparse_pred: int
    dense_top1: bool
    sparse_top1: bool
    dense_top3: bool
    sparse_top3: bool
    fidelity: float
    keep_fraction: float
    skip_rate: float
    skip_rate_after_first: float
    dense_seconds: float
    sparse_seconds: float
    frame_keep: list[float] = field(default_factory=list)
    frame_fidelity: list[float] = field(default_factory=list)
    # How the clip's frames were recovered before the towers saw them, e.g.
    # "repeat_last:3;gray_to_rgb:gray" (neuroflow.data.records.describe_recovery); "" if none.
    recovery: str = ""

    def row(self) -> dict:
        """Flat dict for CSV/JSON (per-frame lists joined)."""
        out = asdict(self)
        for key in ("frame_keep", "frame_fidelity"):
            out[key] = " ".join(f"{v:.4f}" for v in out[key])
        return out


@torch.inference_mode()
def evaluate_clips(
    clips: Tensor,
    labels: Tensor,
    clip_ids: list[str],
    dense: Architecture,
    sparse: Architecture,
    classifier: ZeroShotClassifier,
    project: Projection | None = None,
    schedule: Schedule | None = None,
    aggregation: Aggregation = "mean",
    recoveries: Sequence[str] | None = None,
) -> list[ClipRecord]:
    """Evaluate dense and sparse on a batch of clips.

    Args:
        clips: ``[B, T, 3, H, W]`` normalised frames.
        labels: ``[B]`` class indices.
        clip_ids: Names of the clips.
        dense: The reference architecture.
        sparse: The architecture under test.
        classifier: Zero-shot classifier (class embeddings from prompts).
        project: Maps tower outputs to the joint image-text space (CLIP's visual
            projection); None when they already are image embeddings (SigLIP).
        schedule: Sparsity schedule driving the sparse gate.
        aggregation: How frame embeddings become a clip prediction.
        recoveries: Per clip, the recoveries its frames needed (``""`` for none); stored
            in :attr:`ClipRecord.recovery`. ``None``: no recovery for any clip.

    Returns:
        One record per clip.

    Raises:
        ValueError: ``recoveries`` does not hold one entry per clip.
    """
    recoveries = [""] * len(clip_ids) if recoveries is None else list(recoveries)
    if len(recoveries) != len(clip_ids):  # a shifted list would pin recoveries on wrong clips
        raise ValueError(f"{len(recoveries)} recoveries for {len(clip_ids)} clips")
    # Fidelity compares the tower outputs themselves, so the projection is applied after
    # the loop; the frame-major [T, B, ...] views are the tensors the loop stacked.
    dense_run = stream_clips(dense, clips)
    sparse_run = stream_clips(sparse, clips, schedule=schedule)
    dense_emb, dense_s = dense_run.embeddings.transpose(0, 1), dense_run.seconds
    sparse_emb, sparse_s = sparse_run.embeddings.transpose(0, 1), sparse_run.seconds
    keep = sparse_run.keep_fraction.transpose(0, 1)  # [T, B]
    labels = labels.to(dense_emb.device)
    project = project or (lambda x: x)
    d_logits = clip_logits(classifier, project(dense_emb).transpose(0, 1), aggregation)
    s_logits = clip_logits(classifier, project(sparse_emb).transpose(0, 1), aggregation)
    fidelity = cosine_fidelity(sparse_emb, dense_emb)  # [T, B]
    hits = {
        name: topk_hits(logits, labels, k)
        for name, logits, k in [
            ("d1", d_logits, 1),
            ("s1", s_logits, 1),
            ("d3", d_logits, 3),
            ("s3", s_logits, 3),
        ]
    }
    share = 1.0 / clips.shape[0]  # wall time of a batch is shared by its clips
    records = []
    for b, clip_id in enumerate(clip_ids):
        k = keep[:, b]
        records.append(
            ClipRecord(
                clip_id=clip_id,
                label=int(labels[b]),
                dense_pred=int(d_logits[b].argmax()),
                sparse_pred=int(s_logits[b].argmax()),
                dense_top1=bool(hits["d1"][b]),
                sparse_top1=bool(hits["s1"][b]),
                dense_top3=bool(hits["d3"][b]),
                sparse_top3=bool(hits["s3"][b]),
                fidelity=float(fidelity[:, b].mean()),
                keep_fraction=float(k.mean()),
                skip_rate=float(1 - k.mean()),
                skip_rate_after_first=float(1 - k[1:].mean()) if len(k) > 1 else float("nan"),
                dense_seconds=dense_s * share,
                sparse_seconds=sparse_s * share,
                frame_keep=k.tolist(),
                frame_fidelity=fidelity[:, b].tolist(),
                recovery=recoveries[b],
            )
        )
    return records
