"""Glyph trajectories inside the translation box: linear, arc and oscillating paths.

A path is a ``[T, 2]`` array of (row, col) offsets from the canvas centre. Every point lies
inside ``[-max_shift, max_shift]`` (the box the model was trained on) and the path covers
at least ``min_travel`` pixels between its two most distant points, so the glyph crosses
several patches.
"""

from __future__ import annotations

import numpy as np

PATH_KINDS = ("linear", "arc", "oscillate")


def _inside(points: np.ndarray, box: np.ndarray) -> bool:
    return bool((np.abs(points) <= box + 1e-6).all())


def _extent(points: np.ndarray) -> float:
    """Largest distance between two points of the path."""
    diff = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())


def _linear(rng: np.random.Generator, frames: int, box: np.ndarray) -> np.ndarray:
    start, end = rng.uniform(-box, box, size=(2, 2))
    t = np.linspace(0.0, 1.0, frames)[:, None]
    return start + t * (end - start)


def _arc(rng: np.random.Generator, frames: int, box: np.ndarray) -> np.ndarray:
    centre = rng.uniform(-box, box)
    radius = rng.uniform(0.4, 1.2) * float(box.max())
    start = rng.uniform(0, 2 * np.pi)
    sweep = rng.uniform(0.6, 1.2) * np.pi * rng.choice([-1.0, 1.0])
    angle = start + np.linspace(0.0, sweep, frames)
    return centre + radius * np.stack([np.sin(angle), np.cos(angle)], axis=1)


def _oscillate(rng: np.random.Generator, frames: int, box: np.ndarray) -> np.ndarray:
    centre = rng.uniform(-box / 2, box / 2)
    heading = rng.uniform(0, np.pi)
    direction = np.array([np.sin(heading), np.cos(heading)])
    amplitude = rng.uniform(0.5, 1.0) * float(box.max())
    period = rng.uniform(5.0, 10.0)
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * np.arange(frames) / period + phase)
    return centre + amplitude * wave[:, None] * direction


BUILDERS = {"linear": _linear, "arc": _arc, "oscillate": _oscillate}


def sample_path(
    rng: np.random.Generator,
    kind: str,
    frames: int,
    max_shift: tuple[int, int],
    min_travel: float,
    tries: int = 200,
) -> np.ndarray:
    """A ``[frames, 2]`` path of ``kind`` inside the box, travelling ``min_travel`` or more.

    Args:
        rng: Random source.
        kind: ``"linear"``, ``"arc"`` or ``"oscillate"``.
        frames: Path length.
        max_shift: Half-sizes (rows, cols) of the box.
        min_travel: Smallest distance in pixels between the path's farthest points.
        tries: Rejection-sampling attempts before giving up.

    Raises:
        ValueError: Unknown kind, or no such path fits in the box.
    """
    if kind not in BUILDERS:
        raise ValueError(f"unknown path kind {kind!r}; choose one of {', '.join(PATH_KINDS)}")
    box = np.asarray(max_shift, dtype=np.float64)
    for _ in range(tries):
        points = BUILDERS[kind](rng, frames, box)
        if _inside(points, box) and _extent(points) >= min_travel:
            return points
    raise ValueError(
        f"no {kind} path of {min_travel} px fits in the +-{tuple(max_shift)} px box; "
        "lower min_travel or widen max_shift"
    )
