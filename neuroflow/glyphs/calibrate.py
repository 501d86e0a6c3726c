"""Find the gate threshold that gives a target keep fraction on calibration clips.

The keep fraction depends only on the gate (layer-0 features, EMA, threshold), not on the
encoder, so the bisection runs the gate alone over precomputed patch features. The
calibration clips are separate from the test clips (training backgrounds, their own seed).
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuroflow.core.gate import RetinalGate
from neuroflow.glyphs.clips import ClipSet
from neuroflow.glyphs.dataset import to_pixels
from neuroflow.models.tower import VisionTower


@torch.no_grad()
def gate_features(
    tower: VisionTower,
    clips: ClipSet,
    stats: tuple[list[float], list[float]],
    signal: str = "embedding",
) -> Tensor:
    """``[T, n, N, D]`` layer-0 gate features of every frame of every clip."""
    pixels = to_pixels(clips.frames, *stats)  # [n, T, 3, S, S]
    return torch.stack(
        [tower.embed(pixels[:, t]).gate_features(signal) for t in range(pixels.shape[1])]
    )


def keep_fraction(features: Tensor, threshold: float, ema_decay: float) -> float:
    """Mean keep fraction of a threshold gate over frames 1..T-1 (frame 0 is dense)."""
    gate = RetinalGate(threshold=threshold, ema_decay=ema_decay)
    state = gate.new_state(features.shape[1])
    kept = [gate.step(frame, state).keep_fraction for frame in features]
    return float(torch.stack(kept[1:]).mean())


def calibrate_threshold(
    tower: VisionTower,
    clips: ClipSet,
    target: float,
    ema_decay: float,
    stats: tuple[list[float], list[float]],
    iterations: int = 20,
) -> float:
    """Threshold whose mean keep fraction on ``clips`` is closest to ``target`` (bisection).

    Raises:
        ValueError: ``target`` is above the keep fraction at threshold 0 (the gate cannot
            keep that many patches on these clips; the floor sets the lower end).
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target keep fraction must lie in (0, 1], got {target}")
    features = gate_features(tower, clips, stats)
    high_keep = keep_fraction(features, 0.0, ema_decay)
    if target > high_keep + 1e-6:
        raise ValueError(
            f"keep fraction {target} is unreachable: threshold 0 keeps {high_keep:.3f} on the "
            "calibration clips (add noise, pan or distractors, or lower the target)"
        )
    low, high = 0.0, 2.0  # keep fraction falls as the threshold rises
    for _ in range(iterations):
        mid = (low + high) / 2
        if keep_fraction(features, mid, ema_decay) > target:
            low = mid
        else:
            high = mid
    return (low + high) / 2
