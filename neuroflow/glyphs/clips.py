"""The moving-glyphs video benchmark: clips where a digit moves, with ground-truth motion.

A clip is ``T`` frames of one target digit moving on a linear, arc or oscillating path
through the same translation box the model was trained on, over a held-out background,
with per-frame Gaussian sensor noise. Options make the clip harder for token reuse:

* ``pan``: the camera pans across a larger background (every patch changes a little);
* ``distractors``: small discs move across the frame (motion that carries no label);
* ``change``: the digit turns into another digit at frame ``t_c``; the label is the digit
  after the change (the target), so cache entries left over from before the change are
  stale and cost accuracy.

Ground truth per frame: object motion (pixels where a glyph's or disc's coverage changed
since the previous frame), scene change (also the pixels a pan moved) and the target glyph's
coverage. Clip ``i`` of a set is a pure function of
``(seed, i, spec)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from neuroflow.glyphs.backgrounds import Split, background
from neuroflow.glyphs.dataset import DataConfig, add_noise, sample_style
from neuroflow.glyphs.paths import PATH_KINDS, sample_path
from neuroflow.glyphs.render import contrasting_colour, glyph_alpha, luminance, paste

MOTION_TOL = 0.1  # coverage change that counts as object motion (anti-aliased edges)
CHANGE_TOL = 2.0  # noise-free pixel change (0-255) that counts as scene change


@dataclass(frozen=True)
class ClipSpec:
    """How clips are made.

    Attributes:
        frames: Frames per clip.
        data: Glyph geometry and background style (shared with the image data set).
        paths: Path kinds to draw from.
        min_travel: Smallest extent of the glyph path in pixels (8 = two 4-pixel patches).
        sweeps: Times the path is traversed (back and forth) per clip; sets the speed.
        noise: Sensor-noise std per frame (0-255 scale).
        pan: Largest camera-pan speed in pixels per frame (0: static camera).
        distractors: Moving discs per clip.
        change: Whether the digit changes identity mid-clip.
        change_at: Range of the change time as a share of the clip (the frame index is
            rounded and kept within 1 .. T - 1); 0.2-0.4 of 16 frames is frame 3-6, so the
            target digit is on screen for most of the clip.
    """

    frames: int = 16
    data: DataConfig = field(default_factory=DataConfig)
    paths: tuple[str, ...] = PATH_KINDS
    min_travel: float = 8.0
    sweeps: float = 1.0
    noise: float = 3.0
    pan: float = 0.0
    distractors: int = 0
    change: bool = False
    change_at: tuple[float, float] = (0.2, 0.4)

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"clips need at least 2 frames, got {self.frames}")
        if not 0.0 < self.change_at[0] <= self.change_at[1] < 1.0:
            raise ValueError(f"change_at {self.change_at} must be shares of the clip in (0, 1)")
        if self.pan < 0 or self.noise < 0 or self.distractors < 0 or self.sweeps <= 0:
            raise ValueError("pan, noise and distractors must be non-negative, sweeps positive")


@dataclass
class ClipSet:
    """A batch of clips with labels and ground truth.

    Attributes:
        frames: ``[n, T, S, S, 3]`` uint8.
        labels: ``[n]`` target digit (after the change, in ``change`` clips).
        first_labels: ``[n]`` digit shown on the first frame.
        change_frame: ``[n]`` frame where the digit changes (``T`` when it does not).
        motion: ``[n, T, S, S]`` bool, object motion: pixels where the glyph's or a disc's
            coverage changed since the previous frame (all False on frame 0).
        changed: ``[n, T, S, S]`` bool, object motion plus every pixel whose noise-free value
            changed by more than 2/255 (camera pan).
        glyph: ``[n, T, S, S]`` float coverage of the target glyph.
        path_kind: Path kind of each clip.
    """

    frames: np.ndarray
    labels: np.ndarray
    first_labels: np.ndarray
    change_frame: np.ndarray
    motion: np.ndarray
    changed: np.ndarray
    glyph: np.ndarray
    path_kind: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def patch_motion(self, patch: int) -> Tensor:
        """``[n, T, N]`` bool: patches containing any pixel with object motion."""
        return self.patch_truth(patch, "motion")

    def patch_truth(self, patch: int, which: str = "motion") -> Tensor:
        """``[n, T, N]`` bool ground truth per patch: any pixel of ``which`` set.

        Args:
            patch: Patch size of the model (pixels).
            which: ``"motion"`` (object motion) or ``"changed"`` (motion plus camera pan).
        """
        if which not in ("motion", "changed"):
            raise ValueError(f"which must be 'motion' or 'changed', got {which!r}")
        return patch_mask(torch.as_tensor(getattr(self, which)), patch)


def patch_mask(mask: Tensor, patch: int) -> Tensor:
    """Reduce a pixel mask ``[..., H, W]`` to patches ``[..., N]`` (any pixel set)."""
    *lead, h, w = mask.shape
    if h % patch or w % patch:
        raise ValueError(f"mask size {h}x{w} is not a multiple of the patch size {patch}")
    grid = mask.reshape(*lead, h // patch, patch, w // patch, patch).any(dim=-1).any(dim=-2)
    return grid.reshape(*lead, -1)


def _disc(size: int, centre: np.ndarray, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dist = np.sqrt((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2)
    return np.clip(radius - dist + 0.5, 0.0, 1.0)


def _pan_offsets(rng: np.random.Generator, spec: ClipSpec) -> tuple[np.ndarray, int]:
    """Integer window offsets ``[T, 2]`` of a panning camera and the field margin."""
    margin = math.ceil(spec.pan * (spec.frames - 1) / 2) + 1 if spec.pan > 0 else 0
    if margin == 0:
        return np.zeros((spec.frames, 2), dtype=int), 0
    speed = rng.uniform(0.5, 1.0) * spec.pan
    heading = rng.uniform(0, 2 * np.pi)
    t = np.arange(spec.frames) - (spec.frames - 1) / 2
    offsets = margin + np.outer(t, [speed * np.sin(heading), speed * np.cos(heading)])
    return np.rint(offsets).astype(int), margin


def _distractor_tracks(
    rng: np.random.Generator, spec: ClipSpec, size: int, luma: float
) -> list[dict]:
    """Discs crossing the frame on straight lines at 1-2.5 pixels per frame."""
    tracks = []
    for _ in range(spec.distractors):
        start = rng.uniform(0, size, size=2)
        heading = rng.uniform(0, 2 * np.pi)
        velocity = rng.uniform(1.0, 2.5) * np.array([np.sin(heading), np.cos(heading)])
        tracks.append(
            {
                "start": start,
                "velocity": velocity,
                "radius": rng.uniform(2.5, 4.0),
                "colour": np.asarray(contrasting_colour(rng, luma, 60.0), np.float32),
            }
        )
    return tracks


def make_clip(rng: np.random.Generator, split: Split, spec: ClipSpec) -> dict:
    """One clip as a dict of arrays (see :class:`ClipSet` for the fields)."""
    size, frames = spec.data.spec.image_size, spec.frames
    offsets, margin = _pan_offsets(rng, spec)
    field_ = background(rng, split, size + 2 * margin, spec.data.style, ref_size=size)
    first = sample_style(rng, spec.data.spec, field_)
    target, change_frame = first, frames
    if spec.change:
        other = (
            first.label + int(rng.integers(1, spec.data.spec.num_classes))
        ) % spec.data.spec.num_classes
        target = type(first)(other, first.font, first.height, first.stroke, first.colour)
        share = rng.uniform(spec.change_at[0], spec.change_at[1])
        change_frame = min(frames - 1, max(1, round(share * frames)))
    kind = spec.paths[int(rng.integers(len(spec.paths)))]
    path = sample_path(rng, kind, frames, spec.data.spec.max_shift, spec.min_travel, spec.sweeps)
    tracks = _distractor_tracks(rng, spec, size, float(luminance(field_.mean(axis=(0, 1)))))
    clean = np.empty((frames, size, size, 3), np.float32)
    glyph = np.zeros((frames, size, size), np.float32)
    objects = np.zeros((frames, size, size), np.float32)
    for t in range(frames):
        top, left = offsets[t]
        canvas = field_[top : top + size, left : left + size].copy()
        for track in tracks:
            cov = _disc(size, track["start"] + t * track["velocity"], track["radius"])
            canvas += cov[..., None] * (track["colour"] - canvas)
            objects[t] = np.maximum(objects[t], cov)
        style = target if t >= change_frame else first
        alpha = glyph_alpha(style.label, style.font, style.height, style.stroke)
        glyph[t] = paste(
            canvas, alpha, style.colour, (size / 2 + path[t, 0], size / 2 + path[t, 1])
        )
        clean[t] = canvas
    # Object motion: coverage of the glyph or a disc changed (a new digit changes coverage
    # too). Scene change additionally counts every pixel a pan moved.
    objects = np.maximum(objects, glyph)
    motion = np.zeros((frames, size, size), bool)
    motion[1:] = np.abs(np.diff(objects, axis=0)) > MOTION_TOL
    changed = np.zeros((frames, size, size), bool)
    changed[1:] = (np.abs(np.diff(clean, axis=0)) > CHANGE_TOL).any(axis=-1)
    noisy = np.stack([add_noise(rng, clean[t], spec.noise) for t in range(frames)])
    return {
        "frames": noisy,
        "labels": target.label,
        "first_labels": first.label,
        "change_frame": change_frame,
        "motion": motion,
        "changed": changed | motion,
        "glyph": glyph,
        "path_kind": kind,
    }


def make_clips(
    count: int,
    spec: ClipSpec | None = None,
    seed: int = 0,
    split: Split = "heldout",
    start: int = 0,
) -> ClipSet:
    """Clips ``start .. start + count`` of the set ``(seed, spec, split)``.

    Args:
        count: Number of clips.
        spec: Clip settings (default :class:`ClipSpec`).
        seed: Set seed; clip ``i`` draws from ``default_rng([seed, i, 7])``.
        split: Background photos: ``"heldout"`` for evaluation, ``"train"`` otherwise.
        start: Index of the first clip.
    """
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    spec = spec if spec is not None else ClipSpec()
    clips = [
        make_clip(np.random.default_rng([seed, i, 7]), split, spec)
        for i in range(start, start + count)
    ]
    stack = {k: np.stack([c[k] for c in clips]) for k in clips[0] if k != "path_kind"}
    return ClipSet(
        stack["frames"],
        stack["labels"].astype(np.int64),
        stack["first_labels"].astype(np.int64),
        stack["change_frame"].astype(np.int64),
        stack["motion"],
        stack["changed"],
        stack["glyph"],
        [c["path_kind"] for c in clips],
    )
