"""Keep masks as pictures: the patch grid, per-pixel masks and tinted overlays on frames.

A gate's keep mask is a flat ``[N]`` (or ``[B, N]``) bool tensor over a row-major patch grid
``(rows, cols)``. Frames may have any size (often the original video resolution while the
model ran at 32 or 224 px), so pixel ``(y, x)`` belongs to patch
``(floor(y * rows / H), floor(x * cols / W))``: every pixel lies in exactly one patch, and
every patch covers at least one pixel as long as ``H >= rows`` and ``W >= cols``.

Everything takes numpy arrays or torch tensors and returns numpy arrays, except
:func:`mask_grid` and :func:`marked_patches`, which return bool tensors like the gate's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

Grid = tuple[int, int]
Color = tuple[int, int, int]


def to_numpy(x: np.ndarray | Tensor | Sequence) -> np.ndarray:
    """A numpy view of ``x`` (a torch tensor is detached and moved to the CPU)."""
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _check_grid(grid: Sequence[int]) -> Grid:
    if len(grid) != 2 or any(int(g) != g or g < 1 for g in grid):
        raise ValueError(f"grid must be two positive integers (rows, cols), got {grid!r}")
    return int(grid[0]), int(grid[1])


def _check_color(color: Sequence[int], name: str) -> np.ndarray:
    arr = np.asarray(color)
    if arr.shape != (3,) or arr.min() < 0 or arr.max() > 255:
        raise ValueError(f"{name} must be three values in [0, 255], got {color!r}")
    return arr.astype(np.uint8)


def mask_grid(keep_mask: np.ndarray | Tensor, grid: Sequence[int]) -> Tensor:
    """Reshape a flat keep mask onto its patch grid.

    Args:
        keep_mask: ``[..., N]`` mask, bool or numeric with only 0/1 values.
        grid: ``(rows, cols)`` with ``rows * cols == N`` (row-major).

    Returns:
        Bool tensor ``[..., rows, cols]``.

    Raises:
        ValueError: When the last dimension is not ``rows * cols`` or a value is not 0/1.
    """
    rows, cols = _check_grid(grid)
    if isinstance(keep_mask, Tensor):
        mask = keep_mask.detach().cpu()
    else:  # a copy when strides are negative, which torch cannot view
        mask = torch.as_tensor(np.ascontiguousarray(keep_mask))
    if mask.dim() == 0 or mask.shape[-1] != rows * cols:
        raise ValueError(
            f"keep_mask of shape {tuple(mask.shape)} does not fit grid {rows}x{cols}: "
            f"its last dimension must be {rows * cols}"
        )
    if mask.dtype != torch.bool:
        if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"keep_mask must be bool or hold only 0/1, got dtype {mask.dtype}")
        mask = mask != 0
    return mask.reshape(*mask.shape[:-1], rows, cols)


def _single_grid(keep_mask: np.ndarray | Tensor, grid: Sequence[int]) -> np.ndarray:
    """The ``[rows, cols]`` numpy grid of one frame's mask (``[N]`` or ``[1, N]``)."""
    cells = mask_grid(keep_mask, grid)
    if cells.dim() == 3 and cells.shape[0] == 1:
        cells = cells[0]
    if cells.dim() != 2:
        shape = (*cells.shape[:-2], cells.shape[-2] * cells.shape[-1])
        raise ValueError(f"expected one frame's mask [N] or [1, N], got shape {shape}")
    return cells.numpy()


def mask_to_image(
    keep_mask: np.ndarray | Tensor,
    grid: Sequence[int],
    *,
    cell: int = 8,
    on: Color = (255, 80, 0),
    off: Color = (30, 30, 30),
) -> np.ndarray:
    """Draw the patch grid: one ``cell x cell`` square per patch, ``on`` where kept.

    Args:
        keep_mask: One frame's mask, ``[N]`` or ``[1, N]``.
        grid: ``(rows, cols)``.
        cell: Side of each square in pixels.
        on: RGB of recomputed patches.
        off: RGB of skipped patches.

    Returns:
        uint8 image ``[rows * cell, cols * cell, 3]``.
    """
    if int(cell) != cell or cell < 1:
        raise ValueError(f"cell must be a positive integer, got {cell!r}")
    cells = _single_grid(keep_mask, grid)
    colors = np.where(cells[..., None], _check_color(on, "on"), _check_color(off, "off"))
    return colors.repeat(int(cell), axis=0).repeat(int(cell), axis=1)


def patch_index(size: Sequence[int], grid: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The patch row of each pixel row and the patch column of each pixel column.

    Args:
        size: Frame ``(H, W)``.
        grid: ``(rows, cols)``; needs ``H >= rows`` and ``W >= cols`` so no patch is empty.

    Returns:
        ``(row_of_y [H], col_of_x [W])`` with ``row_of_y[y] == floor(y * rows / H)``.
    """
    rows, cols = _check_grid(grid)
    if len(size) != 2:
        raise ValueError(f"size must be (H, W), got {size!r}")
    height, width = int(size[0]), int(size[1])
    if height < rows or width < cols:
        raise ValueError(
            f"frame {height}x{width} is smaller than grid {rows}x{cols}: some patch would "
            "cover no pixel"
        )
    return np.arange(height) * rows // height, np.arange(width) * cols // width


def upsample_mask(
    keep_mask: np.ndarray | Tensor, grid: Sequence[int], size: Sequence[int]
) -> np.ndarray:
    """Nearest-neighbour per-pixel mask of one frame (see :func:`patch_index`).

    Args:
        keep_mask: One frame's mask, ``[N]`` or ``[1, N]``.
        grid: ``(rows, cols)``.
        size: ``(H, W)`` of the output.

    Returns:
        Bool array ``[H, W]``, True on the pixels of recomputed patches.
    """
    cells = _single_grid(keep_mask, grid)
    row_of_y, col_of_x = patch_index(size, grid)
    return cells[row_of_y[:, None], col_of_x[None, :]]


def _check_frame(frame: np.ndarray | Tensor) -> np.ndarray:
    arr = to_numpy(frame)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"frame must be [H, W, 3], got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {arr.dtype}")
    return arr


def _outline(active: np.ndarray, row_of_y: np.ndarray, col_of_x: np.ndarray) -> np.ndarray:
    """1-px lines around the active cells, drawn inside them.

    Each active cell draws its first row and column; its last row (column) only where the
    cell below (right) is inactive or absent, so neighbouring cells share one line, not two.
    """
    first_y = np.diff(row_of_y, prepend=-1) != 0
    first_x = np.diff(col_of_x, prepend=-1) != 0
    below = np.zeros_like(active)
    below[:-1] = active[1:]
    right = np.zeros_like(active)
    right[:, :-1] = active[:, 1:]
    return active & (first_y[:, None] | first_x[None, :] | ~below | ~right)


def overlay_mask(
    frame: np.ndarray | Tensor,
    keep_mask: np.ndarray | Tensor,
    grid: Sequence[int],
    *,
    color: Color = (255, 64, 0),
    alpha: float = 0.45,
    outline: bool = True,
) -> np.ndarray:
    """Tint the recomputed patches of a frame.

    Active cells are blended ``(1 - alpha) * frame + alpha * color`` (rounded), with an
    optional 1-px outline in ``color``. Every pixel of an active cell is guaranteed to differ
    from the input: where blending rounds back to the input value (a pixel already of the
    tint colour, or a small ``alpha``) the red channel's lowest bit is flipped, a change of
    one level. Pixels outside active cells are returned unchanged, so
    :func:`marked_patches` recovers the mask exactly.

    Args:
        frame: uint8 ``[H, W, 3]``, with ``H >= rows`` and ``W >= cols``.
        keep_mask: One frame's mask, ``[N]`` or ``[1, N]``.
        grid: ``(rows, cols)``.
        color: RGB tint.
        alpha: Tint opacity in ``(0, 1]``.
        outline: Draw the 1-px outline of the active cells.

    Returns:
        New uint8 array ``[H, W, 3]``.
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    image = _check_frame(frame)
    tint = _check_color(color, "color")
    cells = _single_grid(keep_mask, grid)
    row_of_y, col_of_x = patch_index(image.shape[:2], grid)
    active = cells[row_of_y[:, None], col_of_x[None, :]]
    blend = np.rint((1 - alpha) * image + alpha * tint.astype(np.float64)).astype(np.uint8)
    if outline:
        blend[_outline(active, row_of_y, col_of_x)] = tint
    unchanged = (blend == image).all(axis=-1)
    blend[..., 0] = np.where(unchanged, blend[..., 0] ^ 1, blend[..., 0])
    return np.where(active[..., None], blend, image)


def overlay_frames(
    frames: np.ndarray | Tensor,
    masks: np.ndarray | Tensor,
    grid: Sequence[int],
    **kwargs,
) -> np.ndarray:
    """:func:`overlay_mask` on each frame of a clip.

    Args:
        frames: uint8 ``[T, H, W, 3]``.
        masks: ``[T, N]`` keep masks, one per frame.
        grid: ``(rows, cols)``.
        **kwargs: ``color``, ``alpha``, ``outline`` of :func:`overlay_mask`.

    Returns:
        uint8 array ``[T, H, W, 3]``.
    """
    clip, keep = to_numpy(frames), to_numpy(masks)
    if clip.ndim != 4 or clip.shape[0] == 0:
        raise ValueError(f"frames must be [T, H, W, 3] with T >= 1, got shape {clip.shape}")
    if keep.ndim != 2 or keep.shape[0] != clip.shape[0]:
        raise ValueError(f"masks must be [T, N] with T={clip.shape[0]}, got shape {keep.shape}")
    return np.stack([overlay_mask(f, m, grid, **kwargs) for f, m in zip(clip, keep, strict=True)])


def marked_patches(
    overlay: np.ndarray | Tensor, frame: np.ndarray | Tensor, grid: Sequence[int]
) -> Tensor:
    """Which patches an overlay marked: those with any pixel differing from the frame.

    The inverse of :func:`overlay_mask`: ``marked_patches(overlay_mask(f, m, g), f, g)``
    equals ``m`` for any frame, since every pixel of an active cell is changed.

    Args:
        overlay: uint8 ``[H, W, 3]``, e.g. from :func:`overlay_mask`.
        frame: The uint8 ``[H, W, 3]`` frame it was drawn on.
        grid: ``(rows, cols)``.

    Returns:
        Bool tensor ``[N]`` (row-major).
    """
    drawn, image = _check_frame(overlay), _check_frame(frame)
    if drawn.shape != image.shape:
        raise ValueError(f"overlay {drawn.shape} and frame {image.shape} differ in shape")
    row_of_y, col_of_x = patch_index(image.shape[:2], grid)
    differs = (drawn != image).any(axis=-1)
    # cells are contiguous runs of rows/columns, so an OR over each run reduces a cell
    row_starts = np.flatnonzero(np.diff(row_of_y, prepend=-1))
    col_starts = np.flatnonzero(np.diff(col_of_x, prepend=-1))
    per_row = np.logical_or.reduceat(differs, row_starts, axis=0)
    cells = np.logical_or.reduceat(per_row, col_starts, axis=1)
    return torch.from_numpy(np.ascontiguousarray(cells)).flatten()
