"""Fixtures shared by the unit tests: a tiny random SigLIP tower and a short moving clip."""

from __future__ import annotations

import pytest
import torch

from neuroflow.models import load_vision_model


@pytest.fixture
def tower():
    """Tiny random SigLIP (hidden 32, 2 layers, patch 4, native 32 px)."""
    return load_vision_model("tiny-siglip")


@pytest.fixture
def frames() -> torch.Tensor:
    """12 frames ``[T, 3, 32, 32]`` where a block moves over a fixed random background."""
    gen = torch.Generator().manual_seed(0)
    background = torch.rand(3, 32, 32, generator=gen) * 2 - 1
    out = []
    for t in range(12):
        frame = background.clone()
        frame[:, 8:16, (2 * t) % 24 : (2 * t) % 24 + 8] = 1.0
        out.append(frame)
    return torch.stack(out)
