"""Deterministic synthetic scenes with a ground-truth per-patch motion mask.

A scene is a static textured background (real textures from scikit-image's bundled images, or
procedural ones) with solid objects moving along linear, arc or oscillating paths, plus an
optional global camera pan, sensor noise and a lighting ramp. Everything is drawn from one seed.

Ground truth: a patch is *moving* at frame ``t`` iff any of its pixels differs between frames
``t - 1`` and ``t`` of the geometric render, i.e. before noise and lighting are applied (those
change every pixel but are not motion). With ``noise_std=0`` and ``lighting_change=0`` the mask
therefore equals the pixel change of the returned frames exactly. Frame 0 is never moving.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from neuroflow.data.synthetic_paths import TRAJECTORIES, object_path

SKIMAGE_TEXTURES = (
    "brick",
    "grass",
    "gravel",
    "coffee",
    "astronaut",
    "chelsea",
    "rocket",
    "camera",
)
BACKGROUNDS = (*SKIMAGE_TEXTURES, "noise", "flat")
SHAPES = ("square", "disc")


@dataclass(frozen=True)
class SceneConfig:
    """What to render.

    Attributes:
        num_frames: T.
        height: Frame height H in pixels.
        width: Frame width W in pixels.
        patch_size: Side of a mask patch; the mask is ``[T, H // p, W // p]`` (border pixels
            beyond the last full patch are not covered).
        background: A scikit-image texture (``"brick"``, ``"grass"``, ``"coffee"``, ...), or
            ``"noise"`` (procedural, smooth) or ``"flat"`` (uniform grey).
        num_objects: Number of moving objects (0 gives a static scene).
        object_size: Object side (square) or diameter (disc) in pixels.
        shape: ``"square"`` or ``"disc"``.
        speed: Object speed in pixels per frame (peak speed for ``"oscillate"``).
        trajectory: ``"linear"`` (bounces off the borders), ``"arc"`` (circle) or
            ``"oscillate"`` (sinusoidal back and forth).
        pan: Global camera pan ``(dy, dx)`` in pixels per frame (moves the background).
        noise_std: Standard deviation of Gaussian pixel noise (0-255 scale).
        lighting_change: Relative brightness change reached at the last frame (0.2 = +20 %).
    """

    num_frames: int = 16
    height: int = 64
    width: int = 64
    patch_size: int = 16
    background: str = "brick"
    num_objects: int = 1
    object_size: int = 12
    shape: str = "square"
    speed: float = 3.0
    trajectory: str = "linear"
    pan: tuple[float, float] = (0.0, 0.0)
    noise_std: float = 0.0
    lighting_change: float = 0.0

    def __post_init__(self) -> None:
        checks = {
            "num_frames >= 1": self.num_frames >= 1,
            "patch_size >= 1": self.patch_size >= 1,
            "height/width >= patch_size": min(self.height, self.width) >= self.patch_size,
            "num_objects >= 0": self.num_objects >= 0,
            "1 <= object_size <= min(height, width)": 1
            <= self.object_size
            <= min(self.height, self.width),
            "speed >= 0 and noise_std >= 0": self.speed >= 0 and self.noise_std >= 0,
            f"background in {BACKGROUNDS}": self.background in BACKGROUNDS,
            f"shape in {SHAPES}": self.shape in SHAPES,
            f"trajectory in {TRAJECTORIES}": self.trajectory in TRAJECTORIES,
        }
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"invalid SceneConfig ({'; '.join(failed)}): {self}")


@dataclass
class Scene:
    """A rendered scene.

    Attributes:
        frames: uint8 ``[T, H, W, 3]`` RGB.
        motion_mask: bool ``[T, H // p, W // p]``; ``motion_mask[0]`` is all False.
        boxes: int ``[T, K, 4]`` object boxes ``(top, left, bottom, right)``, bottom/right
            exclusive, in frame coordinates (may extend past the frame for discs near a border).
        config: The :class:`SceneConfig` used.
        seed: The seed used.
    """

    frames: torch.Tensor
    motion_mask: torch.Tensor
    boxes: torch.Tensor
    config: SceneConfig
    seed: int


@lru_cache(maxsize=16)
def _skimage_texture(name: str) -> np.ndarray | None:
    """A bundled scikit-image picture as float RGB in [0, 1], or None where unavailable."""
    try:
        from skimage import data

        image = np.asarray(getattr(data, name)(), dtype=np.float32)
    except Exception:  # broad on purpose: missing package, or a loader that needs the network
        return None
    image = image / 255.0 if image.max() > 1.0 else image
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def _procedural(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random texture: coarse noise upsampled bilinearly (no blocky edges)."""
    coarse = torch.from_numpy(rng.random((1, 3, height // 8 + 2, width // 8 + 2), np.float32))
    fine = torch.nn.functional.interpolate(
        coarse, size=(height, width), mode="bilinear", align_corners=False
    )
    return fine[0].permute(1, 2, 0).numpy()


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    y = torch.nn.functional.interpolate(
        x, size=(height, width), mode="bilinear", align_corners=False, antialias=True
    )
    return y[0].permute(1, 2, 0).numpy()


def _background(cfg: SceneConfig, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Float RGB canvas of at least ``height x width`` (the pan window slides over it)."""
    if cfg.background == "flat":
        return np.full((height, width, 3), 0.5, np.float32)
    texture = _skimage_texture(cfg.background) if cfg.background in SKIMAGE_TEXTURES else None
    if texture is None:  # "noise", or the scikit-image picture could not be loaded
        return _procedural(height, width, rng)
    scale = max(height / texture.shape[0], width / texture.shape[1], 0.5)
    texture = _resize(
        texture, round(texture.shape[0] * scale) + 1, round(texture.shape[1] * scale) + 1
    )
    top = int(rng.integers(0, texture.shape[0] - height + 1))
    left = int(rng.integers(0, texture.shape[1] - width + 1))
    return texture[top : top + height, left : left + width]


def _pan_offsets(cfg: SceneConfig) -> tuple[np.ndarray, int, int]:
    """Per-frame integer window offsets ``[T, 2]`` and the canvas margins they need."""
    t = np.arange(cfg.num_frames, dtype=np.float64)[:, None]
    shift = np.floor(t * np.asarray(cfg.pan, dtype=np.float64)[None] + 0.5).astype(int)
    shift -= shift.min(axis=0, keepdims=True)
    margin_y, margin_x = (int(v) for v in shift.max(axis=0))
    return shift, margin_y, margin_x


def _object_mask(cfg: SceneConfig) -> np.ndarray:
    size = cfg.object_size
    if cfg.shape == "square":
        return np.ones((size, size), bool)
    yy, xx = np.mgrid[:size, :size] + 0.5 - size / 2
    return yy**2 + xx**2 <= (size / 2) ** 2


def _paint(frame: np.ndarray, sprite: np.ndarray, top: int, left: int, color: np.ndarray) -> None:
    """Paint ``sprite`` at ``(top, left)``, clipped to the frame."""
    height, width = frame.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + sprite.shape[0], height), min(left + sprite.shape[1], width)
    if y0 < y1 and x0 < x1:
        frame[y0:y1, x0:x1][sprite[y0 - top : y1 - top, x0 - left : x1 - left]] = color


def render_geometry(cfg: SceneConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Render the noise-free, constant-light scene: float frames ``[T, H, W, 3]`` and boxes."""
    rng = np.random.default_rng(seed)
    shifts, margin_y, margin_x = _pan_offsets(cfg)
    canvas = _background(cfg, cfg.height + margin_y, cfg.width + margin_x, rng)
    colors = rng.uniform(0.0, 1.0, (cfg.num_objects, 3)).astype(np.float32)
    colors[np.arange(cfg.num_objects), rng.integers(0, 3, cfg.num_objects)] = 1.0  # saturated
    paths = [object_path(cfg, rng) for _ in range(cfg.num_objects)]
    sprite = _object_mask(cfg)
    frames = np.empty((cfg.num_frames, cfg.height, cfg.width, 3), np.float32)
    boxes = np.zeros((cfg.num_frames, cfg.num_objects, 4), np.int64)
    for t, (dy, dx) in enumerate(shifts):
        frames[t] = canvas[dy : dy + cfg.height, dx : dx + cfg.width]
        for k, path in enumerate(paths):
            top, left = (int(v) for v in np.floor(path[t] - cfg.object_size / 2 + 0.5))
            boxes[t, k] = (top, left, top + cfg.object_size, left + cfg.object_size)
            _paint(frames[t], sprite, top, left, colors[k])
    return frames, boxes


def patch_changes(frames: np.ndarray, patch_size: int) -> np.ndarray:
    """Per-patch "any pixel changed since the previous frame" for ``[T, H, W, C]`` frames."""
    num, height, width = frames.shape[:3]
    rows, cols = height // patch_size, width // patch_size
    crop = frames[:, : rows * patch_size, : cols * patch_size]
    changed = np.zeros((num, rows, cols), bool)
    if num > 1:
        diff = (crop[1:] != crop[:-1]).any(axis=-1)
        changed[1:] = diff.reshape(num - 1, rows, patch_size, cols, patch_size).any(axis=(2, 4))
    return changed


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(frames * 255.0 + 0.5), 0, 255).astype(np.uint8)


def make_scene(config: SceneConfig | None = None, seed: int = 0) -> Scene:
    """Render a synthetic scene and its ground-truth motion mask.

    Args:
        config: What to render; defaults to :class:`SceneConfig` ().
        seed: Seed for the background crop, object colours, paths and noise.

    Returns:
        A :class:`Scene`; the same config and seed always give identical tensors.
    """
    cfg = config or SceneConfig()
    geometry, boxes = render_geometry(cfg, seed)
    clean = _to_uint8(geometry)
    mask = patch_changes(clean, cfg.patch_size)
    frames = clean.astype(np.float32)
    if cfg.lighting_change:
        ramp = np.linspace(0.0, cfg.lighting_change, cfg.num_frames, dtype=np.float32)
        frames *= (1.0 + ramp)[:, None, None, None]
    if cfg.noise_std:
        noise_rng = np.random.default_rng([seed, 1])  # own stream: noise leaves geometry alone
        frames += noise_rng.normal(0.0, cfg.noise_std, frames.shape).astype(np.float32)
    out = np.clip(np.floor(frames + 0.5), 0, 255).astype(np.uint8)
    return Scene(torch.from_numpy(out), torch.from_numpy(mask), torch.from_numpy(boxes), cfg, seed)


def moving_square(
    num_frames: int = 8,
    size: int = 64,
    square: int = 16,
    speed: float = 4.0,
    patch_size: int = 16,
    background: str = "brick",
    seed: int = 0,
) -> Scene:
    """The simplest gate test: a static textured background with one square moving in a line."""
    cfg = SceneConfig(
        num_frames=num_frames,
        height=size,
        width=size,
        patch_size=patch_size,
        background=background,
        num_objects=1,
        object_size=square,
        speed=speed,
    )
    return make_scene(cfg, seed=seed)
