"""Zero-shot video classification of moving-glyph clips through the architectures.

Frames go through any ``make_arch`` architecture (or Arch C with a random-keep gate) one
time step at a time, every clip its own stream; the pooled outputs are projected into the
joint space and scored by a :class:`~neuroflow.eval.zeroshot.ZeroShotClassifier` with the
same clip aggregation the UCF-101 evaluation uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroflow.archs import Architecture, make_arch
from neuroflow.baselines.random_keep import random_keep_arch
from neuroflow.core.gate import GateConfig
from neuroflow.eval.clip_loop import stream_clips
from neuroflow.eval.stats import paired_comparison, wilson_interval
from neuroflow.eval.zeroshot import (
    Aggregation,
    ZeroShotClassifier,
    build_classifier,
    clip_logits,
    project_image,
)
from neuroflow.glyphs.calibrate import calibrate_threshold
from neuroflow.glyphs.clips import ClipSet
from neuroflow.glyphs.dataset import to_pixels
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.text import TEMPLATES
from neuroflow.glyphs.zeroshot_images import pixel_stats
from neuroflow.models import wrap_tower

GATE_MODES = ("budget", "threshold")
FLOOR_TOKENS = 4  # patches every gate keeps per frame (Arch C and random keep alike)


def benchmark_gate(ema_decay: float) -> GateConfig:
    """The gate settings every gated method of the glyph benchmark shares."""
    return GateConfig(ema_decay=ema_decay, floor_tokens=FLOOR_TOKENS)


@dataclass
class ClipRun:
    """What one architecture produced on a clip set.

    Attributes:
        embeds: ``[n, T, D]`` joint-space frame embeddings.
        keep: ``[n, T, N]`` bool, patches recomputed per frame.
        keep_fraction: ``[n, T]`` the method's own keep fraction per frame (for methods
            whose token count changes with depth, the block-averaged share; see
            :meth:`~neuroflow.archs.Architecture.keep_settings`).
    """

    embeds: Tensor
    keep: Tensor
    keep_fraction: Tensor | None = None


def run_clips(
    arch: Architecture,
    model: nn.Module,
    clips: ClipSet,
    pixel_stats: tuple[list[float], list[float]] = ([0.5] * 3, [0.5] * 3),
    batch: int = 128,
    counts: Tensor | None = None,
    seed: int = 0,
) -> ClipRun:
    """Stream every clip through ``arch`` and collect frame embeddings and keep masks.

    A thin adapter over :func:`~neuroflow.eval.clip_loop.stream_clips`: it turns the
    clip set into normalised pixels batch by batch and projects into the joint space.

    Args:
        arch: An architecture (dense, A-D, or random keep).
        model: The HF image-text model (for the joint-space projection).
        clips: The clips.
        pixel_stats: Normalisation mean and std of the model's processor.
        batch: Clips processed side by side as independent streams.
        counts: ``[n, T]`` patches to keep per frame, for gates that take counts (random
            keep matched frame by frame to another gate); None uses the gate's own rule.
        seed: Base of the per-clip seeds of random gates (clip ``i`` uses ``seed + i``), so
            results do not depend on ``batch``.
    """

    def project(pooled: Tensor) -> Tensor:
        return project_image(model, pooled).float()

    embeds, keeps, fractions = [], [], []
    for start in range(0, len(clips), batch):
        stop = min(len(clips), start + batch)
        run = stream_clips(
            arch,
            to_pixels(clips.frames[start:stop], *pixel_stats),
            counts=counts[start:stop] if counts is not None else None,
            seeds=[seed + i for i in range(start, stop)],
            project=project,
        )
        embeds.append(run.embeddings)
        keeps.append(run.keep_mask)
        fractions.append(run.keep_fraction.cpu())
    return ClipRun(torch.cat(embeds), torch.cat(keeps), torch.cat(fractions))


def clip_correct(
    classifier: ZeroShotClassifier, run: ClipRun, labels: np.ndarray, how: Aggregation = "mean"
) -> np.ndarray:
    """``[n]`` bool: clip-level top-1 hit of every clip."""
    pred = clip_logits(classifier, run.embeds, how).argmax(dim=-1)
    return (pred == torch.as_tensor(labels)).numpy()


def dense_accuracy(classifier: ZeroShotClassifier, run: ClipRun, labels: np.ndarray) -> dict:
    """Dense reference accuracies: per frame, first frame alone, last frame, whole clip.

    Every accuracy is against the clip label (the target digit), so in ``change`` clips
    the frames before the change count as misses.
    """
    target = torch.as_tensor(labels)
    frame_pred = classifier.predict(run.embeds)  # [n, T]
    hits = frame_pred == target[:, None]
    return {
        "per_frame": float(hits.float().mean()),
        "first_frame": float(hits[:, 0].float().mean()),
        "last_frame": float(hits[:, -1].float().mean()),
        "clip_mean": float(clip_correct(classifier, run, labels, "mean").mean()),
        "clip_logit_mean": float(clip_correct(classifier, run, labels, "logit_mean").mean()),
    }


def fidelity(run: ClipRun, dense: ClipRun) -> dict:
    """Cosine similarity to the dense run: per frame (mean) and of the mean-pooled clip."""
    frame = F.cosine_similarity(run.embeds, dense.embeds, dim=-1)
    clip = F.cosine_similarity(
        F.normalize(run.embeds, dim=-1).mean(1), F.normalize(dense.embeds, dim=-1).mean(1), dim=-1
    )
    return {"frame_fidelity": float(frame.mean()), "clip_fidelity": float(clip.mean())}


def keep_stats(run: ClipRun, motion: Tensor) -> dict:
    """Keep fraction after the dense first frame, and recall of ground-truth motion.

    Args:
        run: The architecture's run.
        motion: ``[n, T, N]`` bool patches with object motion.
    """
    keep, moved = run.keep[:, 1:], motion[:, 1:].to(run.keep.device)
    recall = (keep & moved).sum() / moved.sum().clamp(min=1)
    return {
        "keep_fraction": float(keep.float().mean()),
        "motion_recall": float(recall),
        "keep_count_per_frame": float(keep.sum(-1).float().mean()),
    }


class Evaluator:
    """Runs the architectures of one model over clip sets.

    Args:
        model: HF image-text model.
        processor: Its processor.
        ema_decay: Gate EMA decay of Arch C.
        gate_mode: ``"budget"`` (top-k surprise, exactly ``k`` per frame) or
            ``"threshold"`` (the paper's gate, threshold calibrated to ``k`` on the
            variant's calibration clips; random keep then matches its count frame by frame).
        batch: Clips per batch of streams.
    """

    def __init__(
        self,
        model: nn.Module,
        processor: object,
        ema_decay: float = 0.1,
        gate_mode: str = "budget",
        batch: int = 128,
    ) -> None:
        if gate_mode not in GATE_MODES:
            raise ValueError(f"gate_mode must be 'budget' or 'threshold', got {gate_mode!r}")
        self.model, self.tower = model, wrap_tower(model)
        self.stats = pixel_stats(processor)
        self.classifier: ZeroShotClassifier = build_classifier(
            model, processor, CLASS_NAMES, TEMPLATES
        )
        self.ema_decay, self.gate_mode, self.batch = ema_decay, gate_mode, batch
        # One gate configuration for calibration, Arch C and the random control's floor,
        # so the calibrated threshold is the one the evaluated gate reaches.
        self.gate = benchmark_gate(ema_decay)

    def run(
        self, arch: Architecture, clips: ClipSet, counts: torch.Tensor | None = None
    ) -> ClipRun:
        """Frame embeddings and keep masks of ``arch`` on ``clips``."""
        return run_clips(arch, self.model, clips, self.stats, self.batch, counts)

    def arch_c(self, keep: float, calibration: ClipSet) -> tuple[Architecture, float | None]:
        """Arch C at keep fraction ``keep`` and its threshold (None in budget mode)."""
        if self.gate_mode == "budget":
            budget = replace(self.gate, mode="budget", keep_fraction=keep)
            return make_arch("C", self.tower, gate=budget), None
        theta = calibrate_threshold(self.tower, calibration, keep, self.gate, self.stats)
        return make_arch("C", self.tower, gate=replace(self.gate, threshold=theta)), theta

    def variant(
        self, clips: ClipSet, keeps: Sequence[float], calibration: ClipSet, with_random: bool = True
    ) -> dict:
        """Dense and matched Arch C / random-keep results on one clip set."""
        labels = clips.labels
        dense = self.run(make_arch("dense", self.tower), clips)
        motion = clips.patch_motion(self.tower.patch_size)
        hits = {"dense": clip_correct(self.classifier, dense, labels)}
        result = {"n": len(clips), "dense": dense_accuracy(self.classifier, dense, labels)}
        result["rows"], result["hits"] = [], hits
        for keep in keeps:
            arch, theta = self.arch_c(keep, calibration)
            runs = {"arch_c": self.run(arch, clips)}
            if with_random:
                counts = runs["arch_c"].keep.sum(-1) if theta is not None else None
                rand = random_keep_arch(
                    "C", self.tower, keep, seed=0, floor_tokens=self.gate.floor_tokens
                )
                runs["random"] = self.run(rand, clips, counts)
            row: dict = {"keep_target": keep, "threshold": theta}
            for name, run in runs.items():
                hits[f"{name}@{keep}"] = h = clip_correct(self.classifier, run, labels)
                row[name] = {
                    "clip_acc": float(h.mean()),
                    "clip_acc_ci95": wilson_interval(int(h.sum()), h.size),
                    **fidelity(run, dense),
                    **keep_stats(run, motion),
                }
            if with_random:
                row["paired"] = paired_comparison(hits[f"arch_c@{keep}"], hits[f"random@{keep}"])
            result["rows"].append(row)
        return result
