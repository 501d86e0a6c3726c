"""Connected clusters of active patches on one frame's patch grid (8- or 4-connectivity).

The gate's keep mask of a frame is a motion mask on the patch grid (paper §6); its connected
components are candidate objects, which :mod:`neuroflow.analysis.segmentation` labels and
tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from torch import Tensor

CONNECTIVITY = {4: 1, 8: 2}  # -> rank-2 structure of scipy.ndimage (1: edges, 2: 3x3 block)


@dataclass(frozen=True)
class Cluster:
    """One connected component of active patches.

    Attributes:
        id: Index of the cluster within its frame (scipy's label order minus one: the
            component whose first patch comes first in row-major order is 0).
        patches: Flat row-major patch indices, ascending.
        size: Number of patches.
        centroid: ``(row, col)`` mean of the patches' grid coordinates (patch units).
        centroid_norm: The centroid of the covered area as a share of the frame, in [0, 1]:
            ``((row + 0.5) / rows, (col + 0.5) / cols)``.
        bbox: ``(top, left, bottom, right)`` in patch units, bottom and right exclusive.
    """

    id: int
    patches: tuple[int, ...]
    size: int
    centroid: tuple[float, float]
    centroid_norm: tuple[float, float]
    bbox: tuple[int, int, int, int]


def clusters(
    keep_grid: Tensor | np.ndarray, min_patches: int = 2, connectivity: int = 8
) -> list[Cluster]:
    """Connected components of the active patches of one frame.

    Args:
        keep_grid: ``[rows, cols]`` bool mask of active patches.
        min_patches: Smallest component kept; smaller ones (lone patches of the top-k floor,
            noise) are dropped.
        connectivity: 8 (diagonal neighbours join) or 4 (edges only).

    Returns:
        The components of at least ``min_patches`` patches, ids renumbered from 0.

    Raises:
        ValueError: The mask is not 2-D boolean, ``connectivity`` is not 4 or 8, or
            ``min_patches`` is below 1.
    """
    grid = keep_grid.detach().cpu().numpy() if isinstance(keep_grid, Tensor) else keep_grid
    grid = np.asarray(grid)
    if grid.ndim != 2 or grid.dtype != bool:
        raise ValueError(
            f"keep_grid must be a [rows, cols] bool mask, got {grid.dtype} {grid.shape}"
        )
    if connectivity not in CONNECTIVITY:
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if int(min_patches) != min_patches or min_patches < 1:
        raise ValueError(f"min_patches must be a positive integer, got {min_patches!r}")
    structure = ndimage.generate_binary_structure(2, CONNECTIVITY[connectivity])
    labelled, _ = ndimage.label(grid, structure=structure)
    rows, cols = grid.shape
    found: list[Cluster] = []
    for index, box in enumerate(ndimage.find_objects(labelled), start=1):
        flat = np.flatnonzero(labelled.ravel() == index)
        if flat.size < min_patches:
            continue
        r, c = np.divmod(flat, cols)
        centroid = (float(r.mean()), float(c.mean()))
        found.append(
            Cluster(
                id=len(found),
                patches=tuple(int(i) for i in flat),
                size=int(flat.size),
                centroid=centroid,
                centroid_norm=((centroid[0] + 0.5) / rows, (centroid[1] + 0.5) / cols),
                bbox=(box[0].start, box[1].start, box[0].stop, box[1].stop),
            )
        )
    return found
