"""Object trajectories for synthetic scenes: centre positions per frame, kept inside the frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from neuroflow.data.synthetic import SceneConfig

TRAJECTORIES = ("linear", "arc", "oscillate")


def _fold(u: np.ndarray, low: float, high: float) -> np.ndarray:
    """Reflect positions into ``[low, high]`` (an object bouncing off the borders)."""
    span = high - low
    if span <= 0:
        return np.full_like(u, (low + high) / 2)
    phase = np.mod(u - low, 2 * span)
    return low + span - np.abs(phase - span)


def object_path(cfg: SceneConfig, rng: np.random.Generator) -> np.ndarray:
    """Centre positions ``[T, 2]`` (y, x) in pixels for one object.

    ``linear`` moves at ``speed`` in a random direction and bounces; ``arc`` runs along a circle
    at ``speed`` pixels per frame; ``oscillate`` swings sinusoidally along a random direction
    with peak speed ``speed``. All positions keep the object inside the frame.
    """
    half = cfg.object_size / 2
    low = np.array([half, half])
    high = np.array([cfg.height - half, cfg.width - half])
    t = np.arange(cfg.num_frames, dtype=np.float64)[:, None]
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.sin(angle), np.cos(angle)])
    room = float(min(high - low)) / 2
    if cfg.trajectory == "linear":
        start = rng.uniform(low, high)
        positions = start + t * cfg.speed * direction
    elif cfg.trajectory == "arc":
        radius = max(room * rng.uniform(0.5, 1.0), 1e-6)
        centre = rng.uniform(low + radius, np.maximum(high - radius, low + radius))
        theta = angle + t[:, 0] * cfg.speed / radius
        positions = centre + radius * np.stack([np.sin(theta), np.cos(theta)], axis=1)
    else:  # oscillate
        amplitude = max(room * rng.uniform(0.5, 1.0), 1e-6)
        centre = rng.uniform(low + amplitude, np.maximum(high - amplitude, low + amplitude))
        positions = centre + amplitude * np.sin(t * cfg.speed / amplitude) * direction
    return np.stack([_fold(positions[:, i], low[i], high[i]) for i in range(2)], axis=1)
