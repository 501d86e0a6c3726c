"""Find the gate threshold that gives a target keep fraction on calibration clips.

A thin adapter over :mod:`neuroflow.core.threshold_search`: it turns a clip set into the
gate features of its frames (every clip its own stream) and bisects with the full gate
configuration the evaluated Arch C uses. The calibration clips are separate from the test
clips (training backgrounds, their own seed).
"""

from __future__ import annotations

from torch import Tensor

from neuroflow.core.gate import GateConfig
from neuroflow.core.threshold_search import gate_features, search_threshold
from neuroflow.glyphs.clips import ClipSet
from neuroflow.glyphs.dataset import to_pixels
from neuroflow.models.tower import VisionTower


def clip_features(
    tower: VisionTower,
    clips: ClipSet,
    stats: tuple[list[float], list[float]],
    signal: str = "embedding",
) -> Tensor:
    """``[T, n, N, D]`` layer-0 gate features of every frame of every clip."""
    pixels = to_pixels(clips.frames, *stats)  # [n, T, 3, S, S]
    # All clips of a frame go through the tower in one call, as when the gate runs.
    return gate_features(tower, pixels.transpose(0, 1), signal, chunk=max(1, len(clips)))


def calibrate_threshold(
    tower: VisionTower,
    clips: ClipSet,
    target: float,
    gate: GateConfig,
    stats: tuple[list[float], list[float]],
    steps: int = 20,
) -> float:
    """Threshold whose mean keep fraction on ``clips`` is closest to ``target``.

    Args:
        tower: The vision tower.
        clips: Calibration clips.
        target: Wanted mean keep fraction after the dense first frame, in (0, 1].
        gate: The gate settings of the architecture that will use the threshold (floor,
            EMA decay, signal, ...); only its threshold is searched.
        stats: Normalisation mean and std of the model's processor.
        steps: Bisection steps (no tolerance: it stops early only on an exact hit).

    Raises:
        ValueError: ``target`` is outside (0, 1] or above the keep fraction at threshold 0
            (the gate cannot keep that many patches on these clips).
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target keep fraction must lie in (0, 1], got {target}")
    features = clip_features(tower, clips, stats, gate.signal)
    threshold, _ = search_threshold(features, gate, target, tol=0.0, steps=steps)
    return threshold
