"""Checks of gate settings and stream indices, each raising an error that names the problem.

They live apart from :mod:`neuroflow.core.gate` so the gate reads as the algorithm; the gate
module re-exports them (``from neuroflow.core.gate import check_threshold`` keeps working).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def _as_numbers(value: object, name: str) -> Tensor:
    # A bool is an int to Python and torch (True == 1.0), so `threshold=True` would pass as
    # a valid threshold of 1 while it almost surely is a mistaken flag: refuse it by name.
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, Tensor) and value.dtype == torch.bool
    ):
        raise ValueError(f"{name} must be a number, got the boolean {value!r}")
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def check_threshold(value: float | Tensor) -> None:
    """Raise ``ValueError`` unless every threshold lies in [0, 2] (the range of 1 - cos)."""
    t = _as_numbers(value, "threshold")
    if not torch.isfinite(t).all() or (t < 0).any() or (t > 2).any():
        raise ValueError(f"threshold must lie in [0, 2] (cosine surprise range), got {value}")


def check_ema_decay(value: float | Tensor) -> None:
    """Raise ``ValueError`` unless every EMA decay lies in (0, 1]."""
    t = _as_numbers(value, "ema_decay")
    if not torch.isfinite(t).all() or (t <= 0).any() or (t > 1).any():
        raise ValueError(f"ema_decay must lie in (0, 1], got {value}")


def is_integer(value: object) -> bool:
    """True for an integer or an integral float (``3``, ``3.0``, ``np.int64(3)``), not a bool."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(value) and int(value) == value


def check_count(value: object, name: str, minimum: int, *, optional: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer ``>= minimum`` (or None if optional).

    Args:
        value: The setting.
        name: Its name, for the message.
        minimum: Smallest allowed value.
        optional: None is allowed (the setting is off).
    """
    if optional and value is None:
        return
    if not is_integer(value) or value < minimum:  # type: ignore[operator]
        allowed = f"an integer >= {minimum}" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_floor(floor_tokens: int, num_patches: int) -> None:
    """Raise ``ValueError`` when the floor asks for more patches than a frame has.

    A floor above ``N`` cannot be met; clamping it silently would hide a setting that was
    meant for a larger input (e.g. a floor chosen at 224 px used at 32 px).
    """
    if floor_tokens > num_patches:
        raise ValueError(
            f"floor_tokens={floor_tokens} is more than the {num_patches} patches of a frame; "
            f"set floor_tokens <= {num_patches} (or use larger frames)"
        )


def _index(value: object, streams: object) -> int:
    if (
        isinstance(value, Tensor)
        and value.numel() == 1
        and not (value.dtype == torch.bool or value.is_floating_point() or value.is_complex())
    ):
        value = value.item()
    # A float index (0.5) would be truncated to a valid stream (0) by a long tensor, and a
    # bool would read as 0/1: both silently touch a stream nobody named.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"stream indices must be integers, got {value!r} in {streams!r}")
    return int(value)


def stream_indices(batch: int, streams: Sequence[int] | Tensor | None) -> Tensor:
    """Indices of ``streams`` (all ``batch`` streams when None) as a long tensor.

    Args:
        batch: Number of streams of the state.
        streams: Integer stream indices (a sequence, an integer tensor or array), or None.

    Raises:
        ValueError: An index is not an integer (``0.5``, ``True``).
        IndexError: An index is out of range.
    """
    if streams is None:
        return torch.arange(batch)
    if isinstance(streams, (Tensor, np.ndarray)):
        items = list(streams.reshape(-1))
    elif isinstance(streams, (str, bytes)):
        items = None
    else:
        try:
            items = list(streams)
        except TypeError:
            items = None
    if items is None:
        raise ValueError(f"streams must be a sequence of stream indices, got {streams!r}")
    values = [_index(v, streams) for v in items]
    if values and (min(values) < 0 or max(values) >= batch):
        raise IndexError(f"stream index out of range for {batch} streams: {values}")
    return torch.tensor(values, dtype=torch.long)


def check_counts(counts: Tensor | Sequence[int] | None, batch: int) -> Tensor | None:
    """Per-stream keep counts as a ``[batch]`` long tensor (None stays None).

    Raises:
        ValueError: Not ``batch`` non-negative counts.
    """
    if counts is None:
        return None
    counts = torch.as_tensor(counts, dtype=torch.long).reshape(-1)
    if counts.numel() != batch or (counts < 0).any():
        raise ValueError(f"need {batch} non-negative counts, got {counts.tolist()}")
    return counts
