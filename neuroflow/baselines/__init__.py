"""Baselines the retinal gate is compared against, each a registered method.

Selection controls with Arch C's cache (random and grid keep, the pixel-difference gate),
whole-frame reuse, Eventful-style per-block reuse, ToMe (as published and as the NeuroFlow paper
ran it, alone and on the gate's active tokens) and DynamicViT-style dropping.
"""

from neuroflow.baselines.eventful import Eventful, EventfulPass
from neuroflow.baselines.frame_reuse import FrameReuse, FrameReuseState
from neuroflow.baselines.gate_tome import GateToMe
from neuroflow.baselines.grid_keep import GridKeepC, GridKeepGate, GridKeepState, grid_order
from neuroflow.baselines.pixel_gate import PixelC, PixelGate, pixel_difference
from neuroflow.baselines.random_keep import (
    RandomKeepB,
    RandomKeepC,
    RandomKeepGate,
    RandomKeepState,
    random_keep_arch,
)
from neuroflow.baselines.token_drop import TokenDrop
from neuroflow.baselines.tome import ToMe, ToMePaper

__all__ = [
    "GateToMe",
    "Eventful",
    "EventfulPass",
    "FrameReuse",
    "FrameReuseState",
    "GridKeepC",
    "GridKeepGate",
    "GridKeepState",
    "PixelC",
    "PixelGate",
    "RandomKeepB",
    "RandomKeepC",
    "RandomKeepGate",
    "RandomKeepState",
    "ToMe",
    "ToMePaper",
    "TokenDrop",
    "grid_order",
    "pixel_difference",
    "random_keep_arch",
]
