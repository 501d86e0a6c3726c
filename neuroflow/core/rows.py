"""Stack the states of separate streams into one batch, and split a batch back into streams.

Every per-stream state (the gate's, the architecture's) holds tensors whose batch axis
indexes streams. A serving engine keeps one state per stream (streams join and leave at any
time) and stacks those of the streams in a tick, so one encoder call serves them all. A
state class says which attributes hold per-stream rows, and on which axis, in its class
attribute ``ROWS`` (``{"ema": 0, "anchors": 1, ...}``); lists (one item per stream) are
concatenated, nested states (``ROWS[name] = "state"``) are stacked recursively, and every
other attribute is copied from the first state (it must agree across the states).

Buffers a state allocates on its first frame are listed in ``LAZY_ROWS``: where one stream
has not allocated them yet (it has seen no frame), its rows become zeros shaped like the
others'. Such a stream is fresh, so its next frame is dense and overwrites them. Any other
row attribute must be present in all states or in none.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor

S = TypeVar("S")
STATE = "state"


def stack_states(states: Sequence[S]) -> S:
    """One state holding the streams of ``states``, in order (copies of their rows).

    Raises:
        ValueError: No states, states of different classes, or rows that cannot be stacked
            (different shapes apart from the batch axis).
    """
    if not states:
        raise ValueError("no stream states to stack")
    kinds = {type(s) for s in states}
    if len(kinds) > 1:
        names = sorted(k.__name__ for k in kinds)
        raise ValueError(f"cannot stack states of different kinds: {names}")
    out = copy.copy(states[0])
    out.batch = sum(s.batch for s in states)
    cls = type(states[0])
    lazy = getattr(cls, "LAZY_ROWS", ())
    for name, axis in cls.ROWS.items():
        values = [getattr(s, name) for s in states]
        setattr(out, name, _stack(name, values, [s.batch for s in states], axis, name in lazy))
    return out


def split_state(state: S) -> list[S]:
    """One single-stream state per stream of ``state`` (their own copies of the rows)."""
    return [select_rows(state, [i]) for i in range(state.batch)]


def select_rows(state: S, rows: Sequence[int]) -> S:
    """A state holding the streams ``rows`` of ``state``, in that order (copied)."""
    rows = [int(r) for r in rows]
    if not rows or min(rows) < 0 or max(rows) >= state.batch:
        raise IndexError(f"rows {rows} out of range for {state.batch} streams")
    out = copy.copy(state)
    out.batch = len(rows)
    for name, axis in type(state).ROWS.items():
        setattr(out, name, _select(getattr(state, name), rows, axis))
    return out


def _stack(name: str, values: list[Any], batches: list[int], axis: int | str, lazy: bool) -> Any:
    missing = sum(v is None for v in values)
    if missing == len(values):
        return None
    if missing and not lazy:
        raise ValueError(f"cannot stack {name!r}: some streams have it and some not")
    if axis == STATE:
        return stack_states(values)
    if isinstance(values[0], list):
        return [item for v in values for item in v]
    template = next(v for v in values if v is not None)
    filled = [
        v if v is not None else _zeros_like_rows(template, b, axis)
        for v, b in zip(values, batches, strict=True)
    ]
    shapes = {tuple(t.shape[:axis]) + tuple(t.shape[axis + 1 :]) for t in filled}
    if len(shapes) > 1:
        raise ValueError(f"cannot stack {name!r}: per-stream shapes differ ({sorted(shapes)})")
    return torch.cat([t.to(template.device) for t in filled], dim=axis)


def _select(value: Any, rows: list[int], axis: int | str) -> Any:
    if value is None:
        return None
    if axis == STATE:
        return select_rows(value, rows)
    if isinstance(value, list):
        return [value[r] for r in rows]
    index = torch.tensor(rows, device=value.device)
    return value.index_select(axis, index)  # a copy: the stream keeps no view of the batch


def _zeros_like_rows(template: Tensor, batch: int, axis: int) -> Tensor:
    shape = list(template.shape)
    shape[axis] = batch
    return torch.zeros(shape, dtype=template.dtype, device=template.device)
