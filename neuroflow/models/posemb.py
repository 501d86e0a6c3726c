"""Learned position-embedding tables resized to any patch grid."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor


def square_grid(num_positions: int) -> int:
    """Side of the square grid a learned table of ``num_positions`` patch rows covers."""
    side = math.isqrt(num_positions)
    if side * side != num_positions:
        raise ValueError(f"position table with {num_positions} rows is not a square grid")
    return side


def resize_patch_table(table: Tensor, grid: tuple[int, int]) -> Tensor:
    """Bicubically resize a ``[N, D]`` patch position table to ``grid`` (rows, cols).

    Uses ``align_corners=False`` (what HF's ``interpolate_pos_encoding`` and the paper's
    scripts do). Works up and down; returns the table itself for the native grid.
    """
    side = square_grid(table.shape[0])
    if grid == (side, side):
        return table
    d = table.shape[1]
    img = table.reshape(1, side, side, d).permute(0, 3, 1, 2)
    img = F.interpolate(img, size=grid, mode="bicubic", align_corners=False)
    return img.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], d)


def stretch_factor(native_side: int, grid: tuple[int, int]) -> float:
    """PE stretch sigma = target grid / native grid (the larger axis for non-square grids)."""
    return max(grid) / native_side
