"""Pictures of keep masks: which patches a gate recomputed, drawn on the video.

:func:`mask_grid` reshapes a flat ``[..., N]`` mask onto its ``(rows, cols)`` patch grid,
:func:`mask_to_image` draws that grid, :func:`upsample_mask` maps it onto frames of any size,
:func:`overlay_mask` / :func:`overlay_frames` tint the recomputed patches of frames, and
:func:`marked_patches` recovers the mask from an overlay. :func:`write_mp4` and
:func:`write_gif` save the resulting clips.
"""

from neuroflow.viz.masks import (
    marked_patches,
    mask_grid,
    mask_to_image,
    overlay_frames,
    overlay_mask,
    patch_index,
    upsample_mask,
)
from neuroflow.viz.writers import Mp4Writer, write_gif, write_mp4

__all__ = [
    "Mp4Writer",
    "marked_patches",
    "mask_grid",
    "mask_to_image",
    "overlay_frames",
    "overlay_mask",
    "patch_index",
    "upsample_mask",
    "write_gif",
    "write_mp4",
]
