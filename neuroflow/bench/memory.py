"""Per-stream state size: every tensor a method keeps between frames, counted once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor


def state_tensors(state: Any) -> list[Tensor]:
    """Every distinct tensor reachable from ``state`` (attributes, lists, dicts), once each."""
    found: dict[int, Tensor] = {}
    seen: set[int] = set()
    todo = [state]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            found.setdefault(obj.data_ptr() or id(obj), obj)
        elif isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            todo.extend(obj)
        elif hasattr(obj, "__dict__") and not callable(obj):
            todo.extend(vars(obj).values())
    return list(found.values())


@dataclass(frozen=True)
class StateSize:
    """Size of the state of ``streams`` streams, and per stream.

    Attributes:
        streams: Streams the state holds.
        bytes: Total bytes.
        elements: Total tensor elements.
    """

    streams: int
    bytes: int
    elements: int

    @property
    def bytes_per_stream(self) -> float:
        """Bytes per stream."""
        return self.bytes / self.streams

    @property
    def elements_per_stream(self) -> float:
        """Tensor elements per stream."""
        return self.elements / self.streams


def state_size(state: Any, streams: int) -> StateSize:
    """Bytes and elements held by ``state`` (after at least one frame has run)."""
    tensors = state_tensors(state)
    return StateSize(
        streams, sum(t.numel() * t.element_size() for t in tensors), sum(t.numel() for t in tensors)
    )
