"""The analysis study: every probe, law fit, failure-class and gate-quality table of one model.

:class:`AnalysisStudy` turns a model, its clips and a gate into one :class:`Work` per table
(``plan()``); each work returns a ``pandas.DataFrame`` (fits in ``attrs["fit"]``). The
tables that need per-clip hits (laws, failure classes) share one cache of dense and Arch C
runs, so a threshold or resolution that two tables use runs once.

Offline, the capacity law has no second model: it compares the mini SigLIP under Arch C at
its native size with the same model run densely at a smaller input (a cheaper compute
tier). The paper's version compares SO400M sparse with base dense; the table says which
comparison it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from neuroflow.archs import make_arch
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateConfig
from neuroflow.eval.clip_loop import stream_clips
from neuroflow.eval.zeroshot import ZeroShotClassifier, clip_logits
from neuroflow.models.tower import VisionTower

PROBE_TABLES = (
    "representation_gap",
    "final_layer_stability",
    "contextual_incompatibility",
    "map_entropy",
    "pooled_magnitude",
    "map_surprise_spearman",
)
HIT_TABLES = ("failure_classes", "failure_quartiles", "saturation_law", "degradation_law")
TABLES = (*PROBE_TABLES, "gate_quality", *HIT_TABLES, "capacity_law")
SCENE_TRAJECTORIES = ("linear", "arc", "oscillate")


@dataclass(frozen=True)
class AnalysisSettings:
    """What the analysis runs.

    Attributes:
        tables: Tables to make (names in :data:`TABLES`).
        batch: Clips streamed side by side.
        probe_clips: Clips the representation probes trace (they keep every layer's output).
        saturation_thresholds: Arch C thresholds of the saturation law.
        margin_pp: Equivalence margin of the saturation law's TOST, in accuracy points.
        degradation_sizes: Input sides of the degradation law (stretch = side / native).
        degradation_threshold: Arch C threshold of the degradation and failure tables
            (the paper uses MaxSparse).
        capacity_small_size: Input side of the cheaper dense model of the capacity law.
        capacity_thresholds: Arch C thresholds of the capacity law.
        failure_min_clips: Classes with fewer clips are left out of the failure classes.
        scenes: Synthetic scenes (ground-truth motion) of the gate-quality table.
    """

    tables: tuple[str, ...] = TABLES
    batch: int = 32
    probe_clips: int = 64
    saturation_thresholds: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5)
    margin_pp: float = 2.0
    degradation_sizes: tuple[int, ...] = (16, 24, 32, 48, 64)
    degradation_threshold: float = 0.35
    capacity_small_size: int = 16
    capacity_thresholds: tuple[float, ...] = (0.05, 0.2, 0.35)
    failure_min_clips: int = 5
    scenes: int = 16

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tables) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown analysis tables {unknown}; choose from {list(TABLES)}")
        if self.batch < 1 or self.probe_clips < 1 or self.scenes < 1:
            raise ValueError("batch, probe_clips and scenes must be positive")
        if len(self.saturation_thresholds) < 2 or len(self.degradation_sizes) < 2:
            raise ValueError("the law fits need at least two thresholds / sizes")


@dataclass
class Clips:
    """The clips under analysis.

    Attributes:
        pixels: ``[n, T, 3, S, S]`` normalised frames at the model's size.
        labels: ``[n]`` class indices.
        class_names: Names of the classes.
        mean: Per-channel normalisation mean (to recover raw frames for optical flow).
        std: Per-channel normalisation std.
        glyphs: The moving-glyphs :class:`~neuroflow.glyphs.clips.ClipSet` (ground-truth
            motion) when the clips are glyph clips, else None.
    """

    pixels: Tensor
    labels: np.ndarray
    class_names: list[str]
    mean: Sequence[float]
    std: Sequence[float]
    glyphs: Any = None

    def raw_frames(self) -> np.ndarray:
        """``[n, T, S, S, 3]`` uint8 frames (the glyph renders, or de-normalised pixels)."""
        if self.glyphs is not None:
            return np.asarray(self.glyphs.frames)
        m = torch.as_tensor(self.mean).view(3, 1, 1)
        s = torch.as_tensor(self.std).view(3, 1, 1)
        x = (self.pixels * s + m).clamp(0, 1).mul(255).round().to(torch.uint8)
        return x.movedim(-3, -1).numpy()


@dataclass
class Work:
    """One table of the plan: its name and how to make it."""

    table: str
    run: Callable[[], pd.DataFrame]


@dataclass
class Runs:
    """Per-clip hits and keep masks of dense and Arch C runs, computed once per setting."""

    hits: dict[tuple, np.ndarray] = field(default_factory=dict)
    skip: dict[tuple, float] = field(default_factory=dict)
    keep: dict[tuple, Tensor] = field(default_factory=dict)


class AnalysisStudy:
    """Every analysis table of one model on one clip set.

    Args:
        tower: The vision tower.
        classifier: Zero-shot classifier of the clips' classes.
        project: Pooled embedding -> joint image-text space.
        clips: The clips.
        gate: Gate of the Arch C runs (its threshold is replaced where a table sweeps it).
        cache: Cache policy of the Arch C runs.
        settings: What to run.
    """

    def __init__(
        self,
        tower: VisionTower,
        classifier: ZeroShotClassifier,
        project: Callable[[Tensor], Tensor],
        clips: Clips,
        gate: GateConfig,
        cache: CorticalCache,
        settings: AnalysisSettings,
    ) -> None:
        self.tower, self.classifier, self.project = tower, classifier, project
        self.clips, self.gate, self.cache, self.settings = clips, gate, cache, settings
        self.runs = Runs()

    # --- plan ---------------------------------------------------------------------------
    def plan(self) -> list[Work]:
        """One work per requested table, in :data:`TABLES` order."""
        makers = {name: getattr(self, f"_{name}", None) for name in TABLES}
        probes = [t for t in PROBE_TABLES if t in self.settings.tables]
        works = [Work(t, (lambda t=t: self._probe(t))) for t in probes]
        works += [
            Work(t, makers[t]) for t in TABLES if t in self.settings.tables and t not in probes
        ]
        return works

    # --- shared runs --------------------------------------------------------------------
    def pixels_at(self, side: int) -> Tensor:
        """The clips resized to ``side`` pixels (bicubic on the normalised frames)."""
        pixels = self.clips.pixels
        if pixels.shape[-1] == side and pixels.shape[-2] == side:
            return pixels
        n, t = pixels.shape[:2]
        flat = F.interpolate(pixels.flatten(0, 1), size=(side, side), mode="bicubic")
        return flat.view(n, t, *flat.shape[1:])

    @property
    def native(self) -> int:
        return self.clips.pixels.shape[-1]

    def hits(self, threshold: float | None, side: int | None = None) -> tuple[np.ndarray, float]:
        """Per-clip top-1 hits and skip rate of dense (``threshold`` None) or Arch C."""
        side = self.native if side is None else side
        key = (threshold, side)
        if key not in self.runs.hits:
            if threshold is None:
                arch = make_arch("dense", self.tower)
            else:
                gate = replace(self.gate, threshold=float(threshold))
                arch = make_arch("C", self.tower, gate=gate, cache=self.cache)
            self.runs.hits[key], self.runs.skip[key], self.runs.keep[key] = self._stream(
                arch, self.pixels_at(side)
            )
        return self.runs.hits[key], self.runs.skip[key]

    def _stream(self, arch: Any, pixels: Tensor) -> tuple[np.ndarray, float, Tensor]:
        embeds, keeps, fractions = [], [], []
        step = self.settings.batch
        with torch.inference_mode():
            for start in range(0, len(pixels), step):
                run = stream_clips(arch, pixels[start : start + step], project=self.project)
                embeds.append(run.embeddings.float())
                keeps.append(run.keep_mask)
                fractions.append(run.keep_fraction.cpu())
        pred = clip_logits(self.classifier, torch.cat(embeds), "mean").argmax(dim=-1)
        hits = (pred.cpu() == torch.as_tensor(self.clips.labels)).numpy()
        return hits, 1.0 - float(torch.cat(fractions).mean()), torch.cat(keeps)

    # --- tables -------------------------------------------------------------------------
    def _probe(self, name: str) -> pd.DataFrame:
        from neuroflow.analysis.probes import run_probes
        from neuroflow.analysis.trace import TraceSettings

        n = min(self.settings.probe_clips, len(self.clips.labels))
        trace = TraceSettings(
            threshold=self.gate.threshold,
            ema_decay=self.gate.ema_decay,
            floor_tokens=self.gate.floor_tokens,
            batch=self.settings.batch,
        )
        needs_joint = name == "pooled_magnitude"
        return run_probes(
            self.tower,
            self.clips.pixels[:n],
            trace,
            names=[name],
            project=self.project if needs_joint else None,
            classifier=self.classifier if needs_joint else None,
            labels=self.clips.labels[:n] if needs_joint else None,
        )[name]

    def _gate_quality(self) -> pd.DataFrame:
        from neuroflow.analysis.gate_quality import mask_quality

        frames = []
        if self.clips.glyphs is not None:
            self.hits(self.gate.threshold)
            keep = self.runs.keep[(self.gate.threshold, self.native)]
            for truth in ("motion", "changed"):
                mask = self.clips.glyphs.patch_truth(self.tower.patch_size, truth)
                frames.append(mask_quality(keep, mask, dataset="moving_glyphs", truth_name=truth))
        frames.append(self._scene_quality())
        return pd.concat(frames, ignore_index=True)

    def _scene_quality(self) -> pd.DataFrame:
        from neuroflow.analysis.gate_quality import mask_quality, scene_truth
        from neuroflow.data.synthetic import SceneConfig, make_scene

        side, patch = self.native, self.tower.patch_size
        scenes = []
        for i in range(self.settings.scenes):  # every trajectory kind, small noise
            kind = SCENE_TRAJECTORIES[i % len(SCENE_TRAJECTORIES)]
            config = SceneConfig(
                height=side,
                width=side,
                patch_size=patch,
                object_size=max(patch, side // 4),
                speed=max(1.0, side / 16),
                trajectory=kind,
                noise_std=2.0,
            )
            scenes.append(make_scene(config, seed=i))
        frames = torch.stack([torch.as_tensor(s.frames) for s in scenes])
        m = torch.as_tensor(self.clips.mean).view(3, 1, 1)
        s = torch.as_tensor(self.clips.std).view(3, 1, 1)
        pixels = (frames.movedim(-1, -3).float() / 255 - m) / s
        arch = make_arch("C", self.tower, gate=self.gate, cache=self.cache)
        with torch.inference_mode():
            keep = stream_clips(arch, pixels).keep_mask
        truth = torch.stack([scene_truth(sc) for sc in scenes])
        return mask_quality(keep, truth, dataset="synthetic_scenes", truth_name="motion")

    def _failure_pair(self) -> tuple[np.ndarray, np.ndarray]:
        dense, _ = self.hits(None)
        sparse, _ = self.hits(self.settings.degradation_threshold)
        return dense, sparse

    def _failure_classes(self) -> pd.DataFrame:
        from neuroflow.analysis.failure import failure_classes

        dense, sparse = self._failure_pair()
        return failure_classes(
            self.clips.labels,
            self.clips.class_names,
            dense,
            sparse,
            min_clips=self.settings.failure_min_clips,
        )

    def _failure_quartiles(self) -> pd.DataFrame:
        from neuroflow.analysis.failure import clip_motion, failure_quartiles

        dense, sparse = self._failure_pair()
        motion = clip_motion(self.clips.raw_frames())
        measures = ("flow_px_per_frame", "centroid_displacement")
        return failure_quartiles({m: motion[m].to_numpy() for m in measures}, dense, sparse)

    def _saturation_law(self) -> pd.DataFrame:
        from neuroflow.analysis.laws import saturation_law

        dense, _ = self.hits(None)
        configs = {}
        for theta in self.settings.saturation_thresholds:
            hits, skip = self.hits(theta)
            configs[f"θ={theta:g}"] = (skip, hits)
        return saturation_law(dense, configs, margin_pp=self.settings.margin_pp)

    def _degradation_law(self) -> pd.DataFrame:
        from neuroflow.analysis.laws import degradation_law

        stretch, gap, extra = [], [], []
        for side in self.settings.degradation_sizes:
            dense, _ = self.hits(None, side)
            sparse, skip = self.hits(self.settings.degradation_threshold, side)
            stretch.append(side / self.native)
            gap.append(100.0 * (dense.mean() - sparse.mean()))
            extra.append(
                {
                    "side": side,
                    "dense_top1": dense.mean(),
                    "sparse_top1": sparse.mean(),
                    "skip": skip,
                }
            )
        table = degradation_law(np.asarray(stretch), np.asarray(gap))
        for column in ("side", "dense_top1", "sparse_top1", "skip"):
            table[column] = [e[column] for e in extra]
        return table

    def _capacity_law(self) -> pd.DataFrame:
        from neuroflow.analysis.laws import capacity_law

        small, _ = self.hits(None, self.settings.capacity_small_size)
        big = {}
        for theta in self.settings.capacity_thresholds:
            hits, skip = self.hits(theta)
            big[f"θ={theta:g}"] = (skip, hits)
        return capacity_law(
            big,
            small,
            big_model=f"Arch C at {self.native} px",
            small_model=f"dense at {self.settings.capacity_small_size} px (same model)",
        )
