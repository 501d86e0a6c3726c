"""Glyph trajectories inside the translation box: linear, arc and oscillating paths.

A path is a ``[T, 2]`` array of (row, col) offsets from the canvas centre. Every point lies
inside ``[-max_shift, max_shift]`` (the box the model was trained on) and the path covers
at least ``min_travel`` pixels between its two most distant points, so the glyph crosses
several patches.
"""

from __future__ import annotations

import numpy as np

PATH_KINDS = ("linear", "arc", "oscillate")


def _extent(points: np.ndarray) -> float:
    """Largest distance between two points of the path."""
    diff = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())


def progress(frames: int, sweeps: float) -> np.ndarray:
    """``[frames]`` position along a path: 0 -> 1 once per sweep, back and forth (ping-pong)."""
    x = np.linspace(0.0, sweeps, frames)
    return 1.0 - np.abs(1.0 - np.mod(x, 2.0))


def _linear(rng: np.random.Generator, frames: int, box: np.ndarray, sweeps: float) -> np.ndarray:
    start, end = rng.uniform(-box, box, size=(2, 2))
    return start + progress(frames, sweeps)[:, None] * (end - start)


def _arc(rng: np.random.Generator, frames: int, box: np.ndarray, sweeps: float) -> np.ndarray:
    radius = rng.uniform(0.5, 1.0) * float(box.max())
    start = rng.uniform(0, 2 * np.pi)
    sweep = rng.uniform(0.6, 1.2) * np.pi * rng.choice([-1.0, 1.0])
    angle = start + progress(frames, sweeps) * sweep
    return radius * np.stack([np.sin(angle), np.cos(angle)], axis=1)


def _oscillate(rng: np.random.Generator, frames: int, box: np.ndarray, sweeps: float) -> np.ndarray:
    heading = rng.uniform(0, np.pi)
    direction = np.array([np.sin(heading), np.cos(heading)])
    amplitude = rng.uniform(0.5, 1.0) * float(box.max())
    period = max(2.5, rng.uniform(5.0, 10.0) / sweeps)
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * np.arange(frames) / period + phase)
    return amplitude * wave[:, None] * direction


BUILDERS = {"linear": _linear, "arc": _arc, "oscillate": _oscillate}


def _place(rng: np.random.Generator, shape: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Shift a path shape by a random offset that keeps it in the box (None: it cannot fit)."""
    low = -box - shape.min(axis=0)
    high = box - shape.max(axis=0)
    if (low > high + 1e-9).any():
        return None
    return shape + rng.uniform(low, np.maximum(low, high))


def sample_path(
    rng: np.random.Generator,
    kind: str,
    frames: int,
    max_shift: tuple[int, int],
    min_travel: float,
    sweeps: float = 1.0,
    tries: int = 200,
) -> np.ndarray:
    """A ``[frames, 2]`` path of ``kind`` inside the box, travelling ``min_travel`` or more.

    Args:
        rng: Random source.
        kind: ``"linear"``, ``"arc"`` or ``"oscillate"``.
        frames: Path length.
        max_shift: Half-sizes (rows, cols) of the box.
        min_travel: Smallest distance in pixels between the path's farthest points.
        sweeps: How often a linear or arc path is traversed (back and forth) in the clip;
            an oscillation's period is divided by it. Speed grows with it.
        tries: Rejection-sampling attempts before giving up.

    Raises:
        ValueError: Unknown kind, or no such path fits in the box.
    """
    if kind not in BUILDERS:
        raise ValueError(f"unknown path kind {kind!r}; choose one of {', '.join(PATH_KINDS)}")
    box = np.asarray(max_shift, dtype=np.float64)
    for _ in range(tries):
        points = _place(rng, BUILDERS[kind](rng, frames, box, sweeps), box)
        if points is not None and _extent(points) >= min_travel:
            return points
    raise ValueError(
        f"no {kind} path of {min_travel} px fits in the +-{tuple(max_shift)} px box; "
        "lower min_travel or widen max_shift"
    )
