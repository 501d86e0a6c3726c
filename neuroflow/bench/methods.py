"""What the harness times: a uniform wrapper over architectures, baselines and controls.

A :class:`BenchMethod` makes per-stream state, resets it, and processes one frame of every
stream, returning the keep fraction per stream. Its ``kind`` names the cost model used for
the FLOP ceiling (see :mod:`neuroflow.bench.ceiling`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neuroflow.archs import Architecture
from neuroflow.archs.mlp_skip import ArchA
from neuroflow.models.tower import VisionTower


class BenchMethod:
    """Base of everything the harness can time.

    Attributes:
        name: Row label.
        kind: Ceiling cost model: ``"dense"``, ``"A"``, ``"B"``, ``"C"`` or ``"D"``.
        dense_layers: Leading dense blocks (Arch D's cost model).
        hf_head: Pools with the HF model's own head, not ``tower.fast_pool`` (cost model).
        repeats: How many times the work is done per frame (calibration controls).
    """

    name = "method"
    kind = "dense"
    dense_layers = 0
    hf_head = False
    repeats = 1

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
    """An :class:`~neuroflow.archs.Architecture` (dense, A, B, C, D or a baseline built on one).

    Args:
        arch: The architecture.
        name: Row label (default: the architecture's name).
        kind: Ceiling cost model (default: the architecture's name when it is one of the
            known kinds, else ``"B"``: a method that drops tokens before the encoder).
    """

    def __init__(self, arch: Architecture, name: str | None = None, kind: str | None = None):
        self.arch = arch
        self.name = name or arch.name
        known = arch.name if arch.name in ("dense", "A", "B", "C", "D") else "B"
        self.kind = kind or known
        self.dense_layers = int(getattr(arch, "dense_layers", 0))
        self.hf_head = isinstance(arch, ArchA)  # Arch A pools with tower.pool

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
        self.kind, self.dense_layers = method.kind, method.dense_layers
        self.hf_head = method.hf_head

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
    kind = "dense"
    hf_head = True

    def __init__(self, tower: VisionTower) -> None:
        self.tower = tower

    def new_state(self, batch: int) -> None:
        return None

    def reset(self, state: None) -> None:
        return None

    def __call__(self, pixels: Tensor, state: None) -> Tensor:
        native = tuple(pixels.shape[-2:]) == (self.tower.native_image_size,) * 2
        self.tower.hf(pixel_values=pixels, interpolate_pos_encoding=not native)
        return torch.ones(pixels.shape[0], device=pixels.device)
