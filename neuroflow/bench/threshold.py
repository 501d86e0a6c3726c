"""Find the gate threshold that gives a target keep fraction on a clip.

Only the patch embedding and the gate run (no encoder), so a search of a few dozen
bisection steps over a clip takes seconds. The keep fraction falls monotonically as the
threshold rises, which makes bisection safe.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from neuroflow.core.gate import GateConfig, RetinalGate
from neuroflow.models.tower import VisionTower


def gate_features(tower: VisionTower, frames: Tensor, signal: str, chunk: int = 16) -> Tensor:
    """Layer-0 gate features ``[T, N, D]`` of prepared frames ``[T, 3, H, W]``."""
    parts = []
    with torch.inference_mode():
        for piece in frames.split(chunk):
            parts.append(tower.embed(piece).gate_features(signal))
    return torch.cat(parts)


def keep_fraction(features: Tensor, config: GateConfig, skip_first: bool = True) -> float:
    """Mean keep fraction of the gate over a clip's features (one stream).

    Args:
        features: ``[T, N, D]`` gate features of consecutive frames.
        config: Gate settings.
        skip_first: Leave the dense first frame out of the mean (as the timing does).
    """
    gate = RetinalGate(config)
    state = gate.new_state(1)
    kept = []
    with torch.inference_mode():
        for t in range(features.shape[0]):
            out = gate.step(features[t : t + 1], state)
            if t > 0 or not skip_first:
                kept.append(out.keep_fraction)
    return float(torch.cat(kept).mean()) if kept else 1.0


def search_threshold(
    features: Tensor, config: GateConfig, target: float, *, tol: float = 0.005, steps: int = 30
) -> tuple[float, float]:
    """Bisect the threshold so the clip's mean keep fraction is close to ``target``.

    Args:
        features: ``[T, N, D]`` gate features of consecutive frames.
        config: Gate settings (its threshold is the value searched).
        target: Wanted mean keep fraction, in (0, 1].
        tol: Stop when the keep fraction is within ``tol`` of the target.
        steps: Maximum bisection steps.

    Returns:
        ``(threshold, keep_fraction)`` of the closest point found.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target keep fraction must lie in (0, 1], got {target}")
    lo, hi = 0.0, 2.0
    best = (config.threshold, keep_fraction(features, config))
    for _ in range(steps):
        mid = (lo + hi) / 2
        k = keep_fraction(features, replace(config, threshold=mid))
        if abs(k - target) < abs(best[1] - target):
            best = (mid, k)
        if abs(k - target) <= tol:
            break
        lo, hi = (mid, hi) if k > target else (lo, mid)
    return best
