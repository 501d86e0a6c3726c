"""Find the gate threshold that gives a target keep fraction on a set of streams.

The keep fraction depends only on the gate (layer-0 features, EMA, threshold, floor, ...),
not on the encoder, so the search runs the gate alone over precomputed patch features: a
few dozen bisection steps take seconds. The keep fraction never rises as the threshold
rises, which makes bisection safe. Every setting of the :class:`GateConfig` except the
threshold is honoured, so the calibrated threshold is right for the gate that is then run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from neuroflow.core.gate import GateConfig, RetinalGate

if TYPE_CHECKING:
    from neuroflow.models.tower import VisionTower

MAX_THRESHOLD = 2.0  # cosine surprise lies in [0, 2]


def _embed(tower: VisionTower, frames: Tensor, signal: str, chunk: int) -> Tensor:
    """Gate features of a ``[M, 3, H, W]`` batch, ``chunk`` images per tower call."""
    return torch.cat([tower.embed(piece).gate_features(signal) for piece in frames.split(chunk)])


def gate_features(
    tower: VisionTower, frames: Tensor, signal: str = "embedding", chunk: int = 16
) -> Tensor:
    """Layer-0 gate features of prepared (normalised) frames.

    Args:
        tower: The vision tower (only its patch embedding runs).
        frames: ``[T, 3, H, W]`` (one stream) or ``[T, B, 3, H, W]`` (``B`` streams).
        signal: The gate's signal, ``config.signal``.
        chunk: Images per tower call; with streams, the streams of one frame.

    Returns:
        ``[T, N, D]`` or ``[T, B, N, D]`` features.
    """
    with torch.inference_mode():
        if frames.dim() == 5:
            return torch.stack([_embed(tower, step, signal, chunk) for step in frames])
        return _embed(tower, frames, signal, chunk)


def _as_streams(features: Tensor) -> Tensor:
    """Features as ``[T, B, N, D]`` (a single stream gets ``B = 1``)."""
    if features.dim() == 3:
        return features[:, None]
    if features.dim() != 4:
        raise ValueError(
            f"gate features must be [T, N, D] or [T, B, N, D], got {tuple(features.shape)}"
        )
    return features


def keep_fraction(features: Tensor, config: GateConfig, skip_first: bool = True) -> float:
    """Mean keep fraction of the gate over consecutive frames of every stream.

    All streams run side by side in one gate state, each from a fresh start; as they have
    the same length, the result is the mean of the streams' own keep fractions.

    Args:
        features: ``[T, N, D]`` (one stream) or ``[T, B, N, D]`` gate features.
        config: Gate settings, used whole (threshold, EMA decay, mode, floor, signal
            normalisation, cache age, first frame).
        skip_first: Leave the first frame (dense after a reset) out of the mean.

    Returns:
        The mean keep fraction (1.0 when no frame is left to average).
    """
    streams = _as_streams(features)
    gate = RetinalGate(config)
    state = gate.new_state(streams.shape[1])
    kept = []
    with torch.inference_mode():
        for t, frame in enumerate(streams):
            out = gate.step(frame, state)
            if t > 0 or not skip_first:
                kept.append(out.keep_fraction)
    return float(torch.stack(kept).mean()) if kept else 1.0


def search_threshold(
    features: Tensor,
    config: GateConfig,
    target: float,
    *,
    tol: float = 0.005,
    steps: int = 30,
) -> tuple[float, float]:
    """Bisect the threshold so the mean keep fraction is close to ``target``.

    Args:
        features: ``[T, N, D]`` or ``[T, B, N, D]`` gate features (see :func:`keep_fraction`).
        config: Gate settings; its threshold is the value searched, the rest is kept.
        target: Wanted mean keep fraction, in (0, 1].
        tol: Stop as soon as a keep fraction within ``tol`` of the target is found.
        steps: Maximum bisection steps.

    Returns:
        ``(threshold, keep_fraction)`` of the evaluated point closest to the target. A
        target below what the floor allows ends near the top of the range.

    Raises:
        ValueError: ``target`` is outside (0, 1], or above the keep fraction at threshold 0
            (no threshold keeps that many patches on these features).
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target keep fraction must lie in (0, 1], got {target}")
    most = keep_fraction(features, replace(config, threshold=0.0))
    if target - most > max(tol, 1e-6):
        raise ValueError(
            f"keep fraction {target} is unreachable: threshold 0 keeps {most:.3f} on these "
            "frames (add motion, noise or streams, raise floor_tokens, or lower the target)"
        )
    return bisect_keep(
        lambda t: keep_fraction(features, replace(config, threshold=t)),
        target,
        start=(0.0, most),
        tol=tol,
        steps=steps,
    )


def bisect_keep(
    keep_at: Callable[[float], float],
    target: float,
    *,
    low: float = 0.0,
    high: float = MAX_THRESHOLD,
    start: tuple[float, float] | None = None,
    tol: float = 0.005,
    steps: int = 30,
) -> tuple[float, float]:
    """Bisect a setting whose keep fraction never rises as it rises (a threshold).

    Args:
        keep_at: Keep fraction at a value of the setting.
        target: Wanted keep fraction.
        low: Lower end of the search range.
        high: Upper end of the search range.
        start: ``(value, keep)`` already evaluated (default: ``low`` is evaluated).
        tol: Stop as soon as a keep fraction within ``tol`` of the target is found.
        steps: Maximum bisection steps.

    Returns:
        ``(value, keep_fraction)`` of the evaluated point closest to the target.
    """
    best = start if start is not None else (low, keep_at(low))
    for _ in range(steps):
        if abs(best[1] - target) <= tol:
            break
        mid = (low + high) / 2
        k = keep_at(mid)
        # Ties go to the later point: it is nearer the value where the keep fraction steps
        # across the target, so with ``tol=0`` this ends where plain bisection would.
        if abs(k - target) <= abs(best[1] - target):
            best = (mid, k)
        low, high = (mid, high) if k > target else (low, mid)
    return best
