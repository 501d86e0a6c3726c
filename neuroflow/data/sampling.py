"""Choose which frame indices of a clip to decode.

All samplers work on the clip's frame count alone, so the decoder reads the file once, front to
back, without seeking. A clip with fewer frames than asked for repeats its last frame; the
returned policy dict records that, so an evaluation run can report every recovery it applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLING_MODES = ("uniform", "consecutive")


@dataclass(frozen=True)
class SampledIndices:
    """Frame indices for one clip plus the recoveries applied to get them.

    Attributes:
        indices: Frame indices in playback order (repeats possible after padding).
        policy: Recoveries applied, e.g. ``{"repeat_last": {"available": 5, "requested": 16}}``;
            empty when none was needed.
    """

    indices: list[int]
    policy: dict = field(default_factory=dict)


def _pad_last(indices: list[int], num_frames: int, available: int) -> SampledIndices:
    """Repeat the last index up to ``num_frames`` and record it."""
    missing = num_frames - len(indices)
    if missing <= 0:
        return SampledIndices(indices[:num_frames])
    policy = {"repeat_last": {"available": available, "requested": num_frames, "added": missing}}
    return SampledIndices(indices + [indices[-1]] * missing, policy)


def _check(available: int, num_frames: int, stride: int = 1) -> None:
    if available < 1:
        raise ValueError(f"cannot sample from a clip with {available} frames")
    if num_frames < 1 or stride < 1:
        raise ValueError(f"need num_frames >= 1 and stride >= 1, got {num_frames}, {stride}")


def uniform_indices(available: int, num_frames: int) -> SampledIndices:
    """Spread ``num_frames`` indices evenly over a clip, first and last frame included.

    Args:
        available: Number of frames in the clip.
        num_frames: Number of frames wanted (T).

    Returns:
        Indices ``round(linspace(0, available - 1, T))``; a clip shorter than T gives every
        frame followed by repeats of the last one (recorded as ``repeat_last``).
    """
    _check(available, num_frames)
    if available < num_frames:
        return _pad_last(list(range(available)), num_frames, available)
    grid = np.linspace(0, available - 1, num_frames)
    return SampledIndices([int(i) for i in np.floor(grid + 0.5)])


def consecutive_indices(
    available: int, num_frames: int, stride: int = 1, start: int = 0
) -> SampledIndices:
    """Take T frames ``stride`` apart starting at ``start``.

    Frames past the end of the clip are replaced by the last frame (recorded as
    ``repeat_last``); a ``start`` past the end is clamped to the last frame.
    """
    _check(available, num_frames, stride)
    start = min(max(start, 0), available - 1)
    return _pad_last(list(range(start, available, stride))[:num_frames], num_frames, available)


def window_starts(
    available: int, num_frames: int, stride: int = 1, step: int | None = None
) -> list[int]:
    """Start indices of consecutive windows covering a clip.

    Args:
        available: Number of frames in the clip.
        num_frames: Frames per window (T).
        stride: Spacing of frames inside a window.
        step: Distance between window starts; defaults to ``num_frames * stride``
            (non-overlapping windows).

    Returns:
        Starts of every window that fits entirely; ``[0]`` for a clip shorter than one window
        (that window is padded by :func:`consecutive_indices`).
    """
    _check(available, num_frames, stride)
    span = (num_frames - 1) * stride + 1
    step = step if step is not None else num_frames * stride
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    return list(range(0, available - span + 1, step)) or [0]


def sample_indices(
    available: int, num_frames: int, mode: str = "uniform", stride: int = 1, start: int = 0
) -> SampledIndices:
    """Dispatch to :func:`uniform_indices` or :func:`consecutive_indices` by ``mode``."""
    if mode == "uniform":
        return uniform_indices(available, num_frames)
    if mode == "consecutive":
        return consecutive_indices(available, num_frames, stride=stride, start=start)
    raise ValueError(f"unknown sampling mode {mode!r}; choose one of {SAMPLING_MODES}")
