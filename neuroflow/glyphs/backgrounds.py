"""Backgrounds for glyph images: blurred, low-contrast crops of real photos, or gradients.

The photos are the ones scikit-image bundles (no download). Training and held-out
backgrounds come from disjoint photo sets, so held-out accuracy measures generalisation to
unseen scenes. Photos that contain printed text or digits (``text``, ``page``, ``clock``)
are left out: they would be label noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter

Split = Literal["train", "heldout"]
TRAIN_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "brick",
    "grass",
    "camera",
    "moon",
    "hubble_deep_field",
    "coins",
    "retina",
    "colorwheel",
    "cell",
)
HELDOUT_PHOTOS = ("gravel", "immunohistochemistry", "stereo_motorcycle")


@dataclass(frozen=True)
class BackgroundStyle:
    """How backgrounds are drawn.

    Attributes:
        blur: Gaussian blur radius (pixels of the output) applied to photo crops.
        contrast: Factor pulling pixel values toward the crop's mean (1 keeps the photo).
        gradient_p: Probability of a smooth two-colour gradient instead of a photo.
        crop: Range of the photo crop side (source pixels) mapped onto a 32-pixel canvas.
    """

    blur: float = 1.5
    contrast: float = 0.3
    gradient_p: float = 0.3
    crop: tuple[int, int] = (48, 256)

    def __post_init__(self) -> None:
        if self.blur < 0 or not 0 < self.contrast <= 1 or not 0 <= self.gradient_p <= 1:
            raise ValueError(f"invalid background style {self}")


def photo_names(split: Split) -> tuple[str, ...]:
    """Names of the scikit-image photos of a split."""
    if split == "train":
        return TRAIN_PHOTOS
    if split == "heldout":
        return HELDOUT_PHOTOS
    raise ValueError(f"background split must be 'train' or 'heldout', got {split!r}")


@lru_cache(maxsize=32)
def load_photo(name: str) -> Image.Image:
    """One bundled scikit-image photo as an RGB PIL image (cached)."""
    import skimage.data

    data = getattr(skimage.data, name)()
    if isinstance(data, tuple):  # stereo_motorcycle returns (left, right, disparity)
        data = data[0]
    data = np.asarray(data)
    if data.dtype != np.uint8:
        data = (255 * (data.astype(np.float32) / max(1.0, float(data.max())))).astype(np.uint8)
    if data.ndim == 2:
        data = np.repeat(data[..., None], 3, axis=2)
    return Image.fromarray(data[..., :3])


def gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth two-colour linear gradient ``[size, size, 3]`` (float32, 0-255)."""
    a, b = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(1, size - 1)
    t = np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    return a + t[..., None] * (b - a)


def photo_crop(
    rng: np.random.Generator, split: Split, size: int, style: BackgroundStyle, ref_size: int = 32
) -> np.ndarray:
    """A random crop of a split's photo, resized, blurred and contrast-reduced.

    Args:
        rng: Random source.
        split: Which photo set.
        size: Output side in pixels.
        style: Blur, contrast and crop range.
        ref_size: Canvas side the crop range refers to; a larger ``size`` (a panning
            camera's field) takes a proportionally larger crop at the same scale.
    """
    names = photo_names(split)
    photo = load_photo(names[int(rng.integers(len(names)))])
    scale = size / ref_size
    side = int(rng.integers(style.crop[0], style.crop[1] + 1) * scale)
    side = min(side, photo.width, photo.height)
    left = int(rng.integers(0, photo.width - side + 1))
    top = int(rng.integers(0, photo.height - side + 1))
    crop = photo.crop((left, top, left + side, top + side))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    crop = crop.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if style.blur > 0:
        crop = crop.filter(ImageFilter.GaussianBlur(style.blur))
    img = np.asarray(crop, dtype=np.float32)
    mean = img.mean(axis=(0, 1), keepdims=True)
    return mean + style.contrast * (img - mean)


def background(
    rng: np.random.Generator, split: Split, size: int, style: BackgroundStyle, ref_size: int = 32
) -> np.ndarray:
    """A background ``[size, size, 3]`` (float32, 0-255): a gradient or a photo crop."""
    if rng.random() < style.gradient_p:
        return gradient(rng, size)
    return photo_crop(rng, split, size, style, ref_size)
