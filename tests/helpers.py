"""Small shared builders for the unit tests (tiny towers, synthetic moving-square clips)."""

from __future__ import annotations

import torch
from torch import Tensor


def moving_square_clip(
    frames: int = 5, size: int = 32, square: int = 8, step: int = 4, batch: int = 1, seed: int = 0
) -> Tensor:
    """``[T, B, 3, size, size]`` clips: a static random background and one moving square.

    Stream ``b`` starts its square at a different row so streams differ; the square moves
    ``step`` pixels right per frame.
    """
    gen = torch.Generator().manual_seed(seed)
    background = torch.rand(batch, 3, size, size, generator=gen) * 2 - 1
    clip = background.unsqueeze(0).repeat(frames, 1, 1, 1, 1)
    for t in range(frames):
        for b in range(batch):
            top = (4 * b) % (size - square)
            left = min(t * step, size - square)
            clip[t, b, :, top : top + square, left : left + square] = 1.0
    return clip


def changed_patches(prev: Tensor, cur: Tensor, patch: int) -> Tensor:
    """``[B, N]`` bool: patches whose pixels differ between two ``[B, 3, H, W]`` frames."""
    diff = (prev - cur).abs().amax(dim=1)  # [B, H, W]
    b, h, w = diff.shape
    grid = diff.view(b, h // patch, patch, w // patch, patch).amax(dim=(2, 4))
    return (grid > 0).flatten(1)


def assert_equals_dense_when_keeping_all(arch, tower, clip: Tensor, atol: float = 1e-5) -> None:
    """Stream ``clip`` (``[T, B, 3, H, W]``) through ``arch`` and the dense model side by side:
    every frame keeps every patch and gives the dense embedding."""
    from neuroflow.archs import make_arch

    dense = make_arch("dense", tower)
    batch = clip.shape[1]
    sa, sd = arch.new_state(batch), dense.new_state(batch)
    with torch.inference_mode():
        for frame in clip:
            out = arch(frame, sa)
            assert out.keep_fraction.eq(1).all()
            torch.testing.assert_close(out.embedding, dense(frame, sd).embedding, atol=atol, rtol=0)
