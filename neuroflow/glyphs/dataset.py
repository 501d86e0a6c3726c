"""The generated image-text data set: one digit glyph per image, captioned from templates.

Every image is a pure function of ``(seed, index, split, spec, style)``: image ``i`` draws
from its own generator, so sets render in parallel chunks and a prefix of a larger set is
the smaller set. :class:`GlyphSpec` is shared with the video clips, so the translation range
the model is trained on is the range the clips move through.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from neuroflow.glyphs.backgrounds import BackgroundStyle, Split, background
from neuroflow.glyphs.render import (
    CLASS_NAMES,
    GlyphStyle,
    available_fonts,
    contrasting_colour,
    glyph_alpha,
    luminance,
    paste,
)


@dataclass(frozen=True)
class GlyphSpec:
    """Geometry and look of the glyphs.

    Attributes:
        image_size: Canvas side in pixels.
        height: Range of glyph heights in pixels (inclusive).
        max_shift: Largest offset (rows, cols) of the glyph centre from the canvas centre;
            images draw it uniformly, clips move through the same box.
        strokes: Outline widths to choose from (pixels).
        min_delta: Smallest luma difference between glyph and background.
        noise: Largest per-pixel Gaussian sensor-noise std (0-255 scale); each image draws
            its std uniformly from ``[0, noise]``.
        num_classes: Digits used (the first ``num_classes`` of 0-9).
    """

    image_size: int = 32
    height: tuple[int, int] = (16, 22)
    max_shift: tuple[int, int] = (4, 7)
    strokes: tuple[float, ...] = (0.0, 0.75)
    min_delta: float = 100.0
    noise: float = 4.0
    num_classes: int = 10

    def __post_init__(self) -> None:
        if not 2 <= self.num_classes <= len(CLASS_NAMES):
            raise ValueError(f"num_classes must lie in [2, {len(CLASS_NAMES)}]")
        if self.height[0] > self.height[1] or self.height[0] < 4:
            raise ValueError(f"invalid glyph height range {self.height}")


@dataclass(frozen=True)
class DataConfig:
    """A glyph data set definition: glyph spec plus background style.

    Attributes:
        spec: Glyph geometry.
        style: Background style.
    """

    spec: GlyphSpec = field(default_factory=GlyphSpec)
    style: BackgroundStyle = field(default_factory=BackgroundStyle)


def image_rng(seed: int, index: int, split: Split) -> np.random.Generator:
    """The generator of image ``index`` of a set (independent of the set's size)."""
    return np.random.default_rng([seed, index, 0 if split == "train" else 1])


def sample_style(
    rng: np.random.Generator, spec: GlyphSpec, backdrop: np.ndarray, label: int | None = None
) -> GlyphStyle:
    """Draw a glyph's font, size, stroke and a colour that contrasts with ``backdrop``."""
    fonts = available_fonts()
    label = int(rng.integers(spec.num_classes)) if label is None else label
    font = fonts[int(rng.integers(len(fonts)))]
    height = int(rng.integers(spec.height[0], spec.height[1] + 1))
    stroke = float(spec.strokes[int(rng.integers(len(spec.strokes)))])
    luma = float(luminance(backdrop.reshape(-1, 3).mean(axis=0)))
    return GlyphStyle(label, font, height, stroke, contrasting_colour(rng, luma, spec.min_delta))


def add_noise(rng: np.random.Generator, image: np.ndarray, std: float) -> np.ndarray:
    """Gaussian sensor noise, then rounding to uint8."""
    if std > 0:
        image = image + rng.normal(0.0, std, size=image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def render_image(
    rng: np.random.Generator, split: Split, data: DataConfig
) -> tuple[np.ndarray, int]:
    """One ``[S, S, 3]`` uint8 image and its label."""
    spec = data.spec
    size = spec.image_size
    canvas = background(rng, split, size, data.style)
    glyph = sample_style(rng, spec, canvas)
    dy = rng.uniform(-spec.max_shift[0], spec.max_shift[0])
    dx = rng.uniform(-spec.max_shift[1], spec.max_shift[1])
    alpha = glyph_alpha(glyph.label, glyph.font, glyph.height, glyph.stroke)
    paste(canvas, alpha, glyph.colour, (size / 2 + dy, size / 2 + dx))
    return add_noise(rng, canvas, rng.uniform(0, spec.noise)), glyph.label


def _render_chunk(args: tuple[int, int, int, Split, DataConfig]) -> tuple[np.ndarray, np.ndarray]:
    seed, start, stop, split, data = args
    images = np.empty((stop - start, data.spec.image_size, data.spec.image_size, 3), np.uint8)
    labels = np.empty(stop - start, np.int64)
    for i in range(start, stop):
        images[i - start], labels[i - start] = render_image(image_rng(seed, i, split), split, data)
    return images, labels


def render_set(
    count: int,
    split: Split,
    seed: int,
    data: DataConfig | None = None,
    workers: int = 1,
    start: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render images ``start .. start + count`` of a set.

    Args:
        count: Number of images.
        split: ``"train"`` or ``"heldout"`` backgrounds.
        seed: Set seed.
        data: Glyph spec and background style.
        workers: Processes to render with (1 renders in this process).
        start: Index of the first image.

    Returns:
        ``(images [count, S, S, 3] uint8, labels [count] int64)``.
    """
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    data = data if data is not None else DataConfig()
    if workers <= 1 or count < 256:
        return _render_chunk((seed, start, start + count, split, data))
    bounds = np.linspace(start, start + count, workers * 4 + 1).astype(int)
    jobs = [
        (seed, int(a), int(b), split, data)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        if b > a
    ]
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_render_chunk, jobs))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def to_pixels(
    images: np.ndarray | Tensor,
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
) -> Tensor:
    """uint8 ``[..., H, W, 3]`` images to float ``[..., 3, H, W]`` model input.

    Does what the saved image processor does for images already at the model's size
    (rescale by 1/255, normalise per channel with ``mean``/``std``), without PIL round trips.
    """
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8 or x.shape[-1] != 3:
        raise ValueError(f"expected uint8 [..., H, W, 3] images, got {x.dtype} {tuple(x.shape)}")
    x = x.movedim(-1, -3).float().div_(255.0)
    m = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x - m) / s
