"""What the harness times: a uniform wrapper over architectures, baselines and controls.

A :class:`BenchMethod` makes per-stream state, resets it, and processes one frame of every
stream, returning the keep fraction per stream. Its ``flops(bd, k)`` is the cost model of the
FLOP ceiling (see :mod:`neuroflow.bench.ceiling`): for a registered method it is the one the
method declares in the registry, so nothing here knows any architecture by name.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neuroflow.archs import Architecture, Dense
from neuroflow.models.tower import VisionTower


class BenchMethod:
    """Base of everything the harness can time.

    Attributes:
        name: Row label.
        cost_model: Label of the cost model behind :meth:`flops` (a row column).
        repeats: How many times the work is done per frame (calibration controls).
    """

    name = "method"
    cost_model = "dense"
    repeats = 1

    def flops(self, bd: Any, k: float) -> float:
        """Model FLOPs of one frame of one stream at keep fraction ``k`` (all repeats)."""
        raise NotImplementedError

    def new_state(self, batch: int) -> Any:
        """Fresh state for ``batch`` streams."""
        raise NotImplementedError

    def reset(self, state: Any) -> None:
        """Start every stream of ``state`` afresh."""
        state.reset()

    def __call__(self, pixels: Tensor, state: Any) -> Tensor:
        """Process one frame per stream; return the keep fraction per stream ``[B]``."""
        raise NotImplementedError


class ArchMethod(BenchMethod):
    """Any registered method (architecture or baseline); its cost model is its own.

    Args:
        arch: The architecture.
        name: Row label (default: the architecture's name).
    """

    def __init__(self, arch: Architecture, name: str | None = None):
        self.arch = arch
        self.name = name or arch.name
        self.cost_model = arch.name

    def flops(self, bd: Any, k: float) -> float:
        return self.arch.flops(bd, k)

    def new_state(self, batch: int) -> Any:
        return self.arch.new_state(batch)

    def __call__(self, pixels: Tensor, state: Any) -> Tensor:
        return self.arch(pixels, state).keep_fraction


class Repeated(BenchMethod):
    """Runs ``method`` ``times`` times per frame: a control that is exactly ``times`` x slower.

    Args:
        method: The method to repeat (each repeat keeps its own state).
        times: Repeats per frame.
    """

    def __init__(self, method: BenchMethod, times: int = 2) -> None:
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        self.inner, self.repeats = method, int(times)
        self.name = f"{method.name}_x{times}"
        self.cost_model = f"{method.cost_model} x{times}"

    def flops(self, bd: Any, k: float) -> float:
        return self.inner.flops(bd, k) * self.repeats

    def new_state(self, batch: int) -> list[Any]:
        return [self.inner.new_state(batch) for _ in range(self.repeats)]

    def reset(self, state: list[Any]) -> None:
        for part in state:
            self.inner.reset(part)

    def __call__(self, pixels: Tensor, state: list[Any]) -> Tensor:
        keep = None
        for part in state:
            keep = self.inner(pixels, part)
        assert keep is not None
        return keep


class HfDense(BenchMethod):
    """The Hugging Face model's own forward (a reference for the ``dense`` row).

    ``dense`` runs the same blocks as the sparse architectures on every token; this row shows
    it is not slower than the unmodified HF implementation.

    Args:
        tower: The vision tower whose HF model is called.
    """

    name = "hf_dense"
    cost_model = "dense (HF head)"

    def __init__(self, tower: VisionTower) -> None:
        self.tower = tower

    def flops(self, bd: Any, k: float) -> float:
        return Dense.frame_flops(bd, 1.0, hf_head=True)

    def new_state(self, batch: int) -> None:
        return None

    def reset(self, state: None) -> None:
        return None

    def __call__(self, pixels: Tensor, state: None) -> Tensor:
        native = tuple(pixels.shape[-2:]) == (self.tower.native_image_size,) * 2
        self.tower.hf(pixel_values=pixels, interpolate_pos_encoding=not native)
        return torch.ones(pixels.shape[0], device=pixels.device)
