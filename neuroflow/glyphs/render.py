"""Glyph rendering: digit shapes as anti-aliased alpha masks, pasted onto a background.

A glyph is drawn with PIL at ``SUPERSAMPLE`` times the target size and box-filtered down,
so small glyphs keep smooth edges. The mask is tight (no empty border), which lets the
caller place it anywhere on the canvas, frame after frame, without re-rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
GLYPHS = "0123456789"
SUPERSAMPLE = 4
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu")
# Upright and slanted faces with clearly drawn digits; ExtraLight and the maths font are
# left out (hair-thin strokes vanish at 32 px).
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerifCondensed.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
)
DEFAULT_FONT = "<pil-default>"


@lru_cache(maxsize=1)
def available_fonts() -> tuple[str, ...]:
    """Font files found on this machine, plus PIL's built-in scalable font.

    The list is part of the data definition: a machine with other fonts renders other
    images for the same seed, so the training metadata records it.
    """
    found: list[str] = []
    for name in FONT_FILES:
        for folder in FONT_DIRS:
            path = Path(folder) / name
            if path.is_file():
                found.append(str(path))
                break
    return (*found, DEFAULT_FONT)


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    if path == DEFAULT_FONT:
        return ImageFont.load_default(size=size)  # type: ignore[return-value]
    return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class GlyphStyle:
    """How one glyph looks.

    Attributes:
        label: Class index into :data:`CLASS_NAMES`.
        font: Font path (or :data:`DEFAULT_FONT`).
        height: Glyph height in output pixels.
        stroke: Outline width in output pixels (thickens the strokes).
        colour: RGB colour, 0-255.
    """

    label: int
    font: str
    height: int
    stroke: float
    colour: tuple[int, int, int]


@lru_cache(maxsize=4096)
def glyph_alpha(label: int, font: str, height: int, stroke: float) -> np.ndarray:
    """Tight anti-aliased alpha mask ``[h, w]`` (float32 in [0, 1]) of one digit.

    Args:
        label: Digit 0-9.
        font: Font path or :data:`DEFAULT_FONT`.
        height: Target ink height in output pixels.
        stroke: Outline width in output pixels.
    """
    if not 0 <= label < len(GLYPHS):
        raise ValueError(f"glyph label must lie in [0, {len(GLYPHS) - 1}], got {label}")
    s = SUPERSAMPLE
    probe = _font(font, 100)
    left, top, right, bottom = probe.getbbox("8")
    size = max(4, round(100 * height * s / max(1, bottom - top)))
    face = _font(font, size)
    width = round(stroke * s)
    canvas = Image.new("L", (size * 2 + 4 * width + 8, size * 2 + 4 * width + 8), 0)
    ImageDraw.Draw(canvas).text(
        (2 * width + 4, 2 * width + 4),
        GLYPHS[label],
        fill=255,
        font=face,
        stroke_width=width,
        stroke_fill=255,
    )
    box = canvas.getbbox()
    if box is None:
        raise RuntimeError(f"font {font!r} drew nothing for digit {label}")
    ink = canvas.crop(box)
    w, h = max(1, round(ink.width / s)), max(1, round(ink.height / s))
    small = ink.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def paste(
    canvas: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int], centre: tuple[float, float]
) -> np.ndarray:
    """Alpha-blend a glyph onto ``canvas`` (float ``[H, W, 3]``, 0-255) in place.

    Args:
        canvas: Background image, modified in place.
        alpha: Glyph mask from :func:`glyph_alpha`.
        colour: Glyph colour.
        centre: Glyph centre (row, col) in pixels; rounded to the pixel grid. Parts that
            fall outside the canvas are clipped.

    Returns:
        The coverage mask ``[H, W]`` of the glyph on the canvas (for motion masks).
    """
    height, width = canvas.shape[:2]
    gh, gw = alpha.shape
    top = int(round(centre[0] - gh / 2))
    left = int(round(centre[1] - gw / 2))
    coverage = np.zeros((height, width), dtype=np.float32)
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(height, top + gh), min(width, left + gw)
    if r1 <= r0 or c1 <= c0:
        return coverage
    a = alpha[r0 - top : r1 - top, c0 - left : c1 - left]
    region = canvas[r0:r1, c0:c1]
    region += a[..., None] * (np.asarray(colour, dtype=np.float32) - region)
    coverage[r0:r1, c0:c1] = a
    return coverage


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of ``[..., 3]`` RGB values."""
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def contrasting_colour(
    rng: np.random.Generator, background_luma: float, min_delta: float = 100.0
) -> tuple[int, int, int]:
    """A random RGB colour whose luma differs from ``background_luma`` by ``min_delta``."""
    for _ in range(32):
        colour = rng.integers(0, 256, size=3)
        if abs(float(luminance(colour.astype(np.float32))) - background_luma) >= min_delta:
            return int(colour[0]), int(colour[1]), int(colour[2])
    # Always reachable: black or white is at least 127.5 away from any luma.
    return (0, 0, 0) if background_luma > 127.5 else (255, 255, 255)
