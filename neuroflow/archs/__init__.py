"""Dense and sparse architectures as compositions of tower, gate and cache."""

from __future__ import annotations

from typing import Any

from neuroflow.archs.base import Architecture, ArchOutput, Dense, StreamState, check_frames
from neuroflow.archs.mlp_skip import ArchA
from neuroflow.archs.pruned import ArchB, ArchC, ArchD
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateConfig, RetinalGate
from neuroflow.models.tower import VisionTower

ARCHITECTURES = ("dense", "A", "B", "C", "D")


def make_arch(
    name: str,
    tower: VisionTower,
    *,
    cache_mode: str = "hard",
    cache_alpha: float = 0.01,
    dense_layers: int | None = None,
    anchor: str = "keyframe",
    gate: GateConfig | Any | None = None,
    **gate_kwargs: Any,
) -> Architecture:
    """Build an architecture over ``tower``.

    Args:
        name: ``"dense"``, ``"A"``, ``"B"``, ``"C"`` or ``"D"`` (case-insensitive).
        tower: The vision tower (see :func:`neuroflow.load_vision_model`).
        cache_mode: Cortical-cache policy for C and D: ``"hard"`` or ``"blend"``.
        cache_alpha: Blend weight of the new output in ``"blend"`` mode.
        dense_layers: Leading blocks that run densely in Arch D (None: half of them).
        anchor: Arch A's treatment of inactive tokens: ``"keyframe"`` or ``"none"``.
        gate: A full gate configuration, or a ready gate object (anything with ``config``,
            ``new_state`` and ``step``, e.g. the random-keep control); when None,
            ``gate_kwargs`` build a retinal gate.
        **gate_kwargs: Fields of :class:`~neuroflow.core.gate.GateConfig` (``threshold``,
            ``ema_decay``, ``mode``, ``keep_fraction``, ``floor_tokens``, ...).

    Returns:
        The architecture module; call ``arch.new_state(batch)`` then ``arch(frames, state)``.
    """
    key = name.lower()
    if key == "dense":
        if gate_kwargs or gate is not None:
            raise ValueError("the dense architecture takes no gate settings")
        return Dense(tower)
    if gate is not None and hasattr(gate, "step"):
        if gate_kwargs:
            raise ValueError("pass gate settings to the gate object, not to make_arch")
        retina = gate
    else:
        retina = RetinalGate(gate if gate is not None else GateConfig(**gate_kwargs))
    cache = CorticalCache(cache_mode, cache_alpha)  # type: ignore[arg-type]
    builders = {
        "a": lambda: ArchA(tower, retina, anchor=anchor),  # type: ignore[arg-type]
        "b": lambda: ArchB(tower, retina),
        "c": lambda: ArchC(tower, retina, cache),
        "d": lambda: ArchD(tower, retina, cache, dense_layers=dense_layers),
    }
    if key not in builders:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return builders[key]()


__all__ = [
    "ARCHITECTURES",
    "ArchA",
    "ArchB",
    "ArchC",
    "ArchD",
    "ArchOutput",
    "Architecture",
    "Dense",
    "StreamState",
    "check_frames",
    "make_arch",
]
