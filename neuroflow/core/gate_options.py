"""Staleness controls of the retinal gate: staggered refresh, dual-rate EMA, dilation.

They live apart from :mod:`neuroflow.core.gate` so the gate's step reads as the algorithm;
every option is off by default and then leaves the gate's decisions unchanged bit for bit.

* ``stagger``: the ``max_cache_age = m`` refresh is spread round-robin over the frames (patch
  ``i`` on the frames ``t`` with ``(t + i) % m == 0``) instead of falling on one frame for
  every patch that reached age ``m`` together (a periodic dense frame after a dense first one).
* ``slow_ema_decay``: a second, slow EMA next to the usual one; the surprise is the larger of
  the two, so an object that stops moving, absorbed by the fast EMA within a few frames, stays
  surprising against the slow background model.
* ``dilation``: the surprise map is max-pooled over a ``(2r + 1) x (2r + 1)`` window of the
  patch grid before the selection, so the neighbours of a surprising patch are kept too.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroflow.core.checks import check_count

if TYPE_CHECKING:
    from neuroflow.core.gate import GateConfig


def check_options(config: GateConfig) -> None:
    """Raise ``ValueError`` naming the problem for inconsistent staleness options."""
    if config.stagger and config.max_cache_age is None:
        raise ValueError(
            "stagger=True spreads the max_cache_age refresh over the frames: set max_cache_age "
            "(the refresh period in frames) too"
        )
    slow = config.slow_ema_decay
    if slow is not None and (
        isinstance(slow, bool)
        or not isinstance(slow, numbers.Real)
        or not 0.0 < slow < config.ema_decay  # NaN fails this too
    ):
        raise ValueError(
            f"slow_ema_decay must lie in (0, ema_decay={config.ema_decay}) (a slower "
            f"background model than the EMA), got {slow!r}"
        )
    check_count(config.dilation, "dilation", 0)


def refresh_due(
    age: Tensor, frames: Tensor, max_cache_age: int | None, stagger: bool
) -> Tensor | None:
    """``[B, N]`` patches the periodic refresh forces this frame (None when it is off).

    Args:
        age: ``[B, N]`` frames since every patch was last recomputed.
        frames: ``[B]`` frames since every stream's reset (the staggered refresh's phase).
        max_cache_age: The refresh period ``m``, or None.
        stagger: Patch ``i`` on the frames ``t`` with ``(t + i) % m == 0`` (about ``N / m``
            patches a frame); otherwise every patch whose age would reach ``m``.
    """
    if max_cache_age is None:
        return None
    if not stagger:
        return age + 1 >= max_cache_age
    patches = torch.arange(age.shape[1], device=frames.device)
    return (frames[:, None] + patches) % max_cache_age == 0


def check_refresh_mask(mask: object, batch: int, num_patches: int | None) -> None:
    """Raise ``ValueError`` unless ``mask`` is a ``[batch, num_patches]`` bool tensor (any
    patch count while ``num_patches`` is None: the state has seen no frame yet)."""
    if (
        not isinstance(mask, Tensor)
        or mask.dtype != torch.bool
        or mask.dim() != 2
        or mask.shape[0] != batch
        or (num_patches is not None and mask.shape[1] != num_patches)
    ):
        got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, Tensor) else repr(mask)
        want = num_patches if num_patches is not None else "N"
        raise ValueError(f"refresh mask must be a [{batch}, {want}] bool tensor, got {got}")


def patch_grid(num_patches: int, grid: tuple[int, int] | None) -> tuple[int, int]:
    """``(rows, cols)`` of the patch grid: ``grid``, or a square one when it is None.

    Raises:
        ValueError: ``grid`` does not hold ``num_patches``, or no grid is known and
            ``num_patches`` is not a square number.
    """
    if grid is None:
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(
                f"dilation needs the patch grid: {num_patches} patches are no square grid; "
                "set state.grid = (rows, cols) (the architectures do)"
            )
        return side, side
    rows, cols = int(grid[0]), int(grid[1])
    if rows * cols != num_patches:
        raise ValueError(
            f"patch grid {rows}x{cols} does not hold the frame's {num_patches} patches"
        )
    return rows, cols


def dilate(surprise: Tensor, grid: tuple[int, int], radius: int) -> Tensor:
    """``[B, N]`` maximum of ``surprise`` over each patch's ``(2r + 1)^2`` grid neighbourhood.

    Thresholding the result equals dilating the mask ``surprise > threshold`` by ``radius``
    patches (Chebyshev distance); outside the grid counts as ``-inf`` (max pooling's padding).
    """
    if radius == 0:
        return surprise
    b = surprise.shape[0]
    maps = surprise.reshape(b, 1, *grid)
    pooled = F.max_pool2d(maps, kernel_size=2 * radius + 1, stride=1, padding=radius)
    return pooled.reshape(b, -1)
