"""Read a folder of frame images (``00001.jpg``, ``00002.jpg``, ...) as one clip.

Images are ordered by natural sort (``frame2`` before ``frame10``) and converted to RGB by
Pillow: grayscale is replicated to three channels, RGBA and paletted images lose their alpha.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from neuroflow.data.errors import EmptyVideoError, FrameIndexError, VideoDecodeError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_frame_files(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder`` in natural order.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frame folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=_natural_key)


# Pillow modes with one colour channel ("LA" and "La" add alpha to it).
GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")


def _convert(image: Image.Image) -> tuple[np.ndarray, dict]:
    """RGB array of one image and its colour recoveries (as ``video.read_frames_recorded``)."""
    notes = {"gray_to_rgb": {"source": image.mode}} if image.mode in GRAY_MODES else {}
    has_alpha = "A" in image.mode or "a" in image.mode or "transparency" in image.info
    if not has_alpha:
        return np.asarray(image.convert("RGB"), dtype=np.uint8), notes
    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    if (rgba[..., 3] < 255).any():  # an all-opaque alpha channel loses nothing when dropped
        notes["alpha_dropped"] = {"source": image.mode}
    return rgba[..., :3], notes


def _load_image(path: Path) -> tuple[torch.Tensor, dict]:
    try:
        with Image.open(path) as image:
            array, notes = _convert(image)
    except (UnidentifiedImageError, OSError) as err:
        raise VideoDecodeError(f"{path}: cannot read image ({err})") from err
    return torch.from_numpy(array.copy()), notes


def read_frame_folder(folder: str | Path, indices: Sequence[int] | None = None) -> torch.Tensor:
    """Load frames from a folder of images (see :func:`read_frame_folder_recorded`)."""
    return read_frame_folder_recorded(folder, indices)[0]


def read_frame_folder_recorded(
    folder: str | Path, indices: Sequence[int] | None = None
) -> tuple[torch.Tensor, dict]:
    """Load frames from a folder of images, saying how they were made RGB.

    Args:
        folder: Folder holding one image per frame.
        indices: Frame positions (in natural order) to load; ``None`` loads all.

    Returns:
        ``(uint8 tensor [T, H, W, 3] (RGB), colour policy)``; the policy holds
        ``gray_to_rgb`` / ``alpha_dropped`` (with the Pillow ``source`` mode) when an image
        needed it, ``{}`` otherwise.

    Raises:
        EmptyVideoError: The folder holds no image.
        FrameIndexError: An index is past the last frame.
        VideoDecodeError: An image cannot be read, or the images differ in size.
    """
    files = list_frame_files(folder)
    if not files:
        raise EmptyVideoError(f"{folder}: no frame images ({', '.join(IMAGE_SUFFIXES)})")
    wanted = list(range(len(files))) if indices is None else [int(i) for i in indices]
    if any(i < 0 for i in wanted):
        raise ValueError(f"frame indices must be >= 0, got {min(wanted)}")
    if wanted and max(wanted) >= len(files):
        raise FrameIndexError(
            f"{folder}: frame {max(wanted)} requested but the folder has {len(files)} images",
            available=len(files),
        )
    cache, policy = {}, {}
    for i in sorted(set(wanted)):
        cache[i], notes = _load_image(files[i])
        policy.update(notes)
    shapes = {tuple(t.shape) for t in cache.values()}
    if len(shapes) > 1:
        raise VideoDecodeError(f"{folder}: frame images differ in size ({sorted(shapes)})")
    return torch.stack([cache[i] for i in wanted]), policy
