"""Turn uint8 RGB frames into the normalised float tensors a vision tower expects.

Two resize policies:

* ``"square"``: stretch every frame to ``size x size`` (what the paper's scripts do; distorts
  the aspect ratio of non-square video).
* ``"crop"``: resize the short side to ``size`` keeping the aspect ratio, then take the central
  ``size x size`` square (what CLIP's image processor does).

Resizing runs in torch (``interpolate`` with antialiasing), so whole clips are processed in one
call; results differ from the PIL path of HF image processors by a few 1/255 steps at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

RESIZE_MODES = ("square", "crop")
# PIL resampling codes used by HF image processors -> torch interpolate modes (LANCZOS has no
# torch equivalent; bicubic is the closest).
_PIL_TO_TORCH = {0: "nearest", 1: "bicubic", 2: "bilinear", 3: "bicubic"}


def _triple(value: float | Sequence[float], name: str) -> torch.Tensor:
    values = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) != 3:
        raise ValueError(f"{name} needs 1 or 3 values, got {values}")
    return torch.tensor(values).view(1, 3, 1, 1)


def as_uint8_frames(frames: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Check and convert frames to a uint8 tensor ``[T, H, W, 3]``.

    Args:
        frames: ``[T, H, W, 3]`` or ``[H, W, 3]`` uint8 (tensor or numpy array).

    Raises:
        TypeError: The frames are not uint8.
        ValueError: The shape is not ``[..., H, W, 3]``.
    """
    frames = torch.as_tensor(frames)
    if frames.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8 RGB, got {frames.dtype}")
    if frames.ndim == 3:
        frames = frames.unsqueeze(0)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be [T, H, W, 3] or [H, W, 3] RGB, got shape {tuple(frames.shape)} "
            "(neuroflow.data.video.read_frames converts grayscale/RGBA to RGB)"
        )
    return frames


class FrameTransform:
    """Resize and normalise frames for a vision tower.

    Args:
        size: Output side length S.
        mean: Per-channel mean (one value or three) subtracted after scaling to [0, 1].
        std: Per-channel standard deviation (one value or three).
        resize: ``"square"`` (stretch) or ``"crop"`` (short side to S, centre crop).
        interpolation: torch interpolation mode (``"bicubic"``, ``"bilinear"``, ``"nearest"``).
    """

    def __init__(
        self,
        size: int,
        mean: float | Sequence[float] = 0.5,
        std: float | Sequence[float] = 0.5,
        resize: str = "square",
        interpolation: str = "bicubic",
    ) -> None:
        if resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize {resize!r}; choose one of {RESIZE_MODES}")
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size, self.resize, self.interpolation = int(size), resize, interpolation
        self.mean, self.std = _triple(mean, "mean"), _triple(std, "std")
        if (self.std <= 0).any():
            raise ValueError(f"std must be positive, got {self.std.flatten().tolist()}")

    def __repr__(self) -> str:
        return (
            f"FrameTransform(size={self.size}, mean={self.mean.flatten().tolist()}, "
            f"std={self.std.flatten().tolist()}, resize={self.resize!r}, "
            f"interpolation={self.interpolation!r})"
        )

    def _resize(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        if (height, width) == tuple(x.shape[-2:]):
            return x
        smooth = self.interpolation in ("bilinear", "bicubic")
        return F.interpolate(
            x,
            size=(height, width),
            mode=self.interpolation,
            antialias=smooth,
            **({"align_corners": False} if smooth else {}),
        )

    def __call__(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Transform ``[T, H, W, 3]`` or ``[H, W, 3]`` uint8 frames to float ``[T, 3, S, S]``."""
        x = as_uint8_frames(frames).permute(0, 3, 1, 2).float().div_(255.0)
        height, width = x.shape[-2:]
        if self.resize == "square":
            x = self._resize(x, self.size, self.size)
        else:
            scale = self.size / min(height, width)
            new_h = max(self.size, int(height * scale))  # floor, as HF does
            new_w = max(self.size, int(width * scale))
            x = self._resize(x, new_h, new_w)
            top, left = (new_h - self.size) // 2, (new_w - self.size) // 2
            x = x[..., top : top + self.size, left : left + self.size]
        # bicubic overshoots outside [0, 1]; PIL clamps the same way when it writes uint8
        return (x.clamp_(0.0, 1.0) - self.mean) / self.std

    @classmethod
    def from_processor(cls, processor: Any, resize: str | None = None) -> FrameTransform:
        """Build a transform from an HF image processor (or a processor holding one).

        Args:
            processor: e.g. ``SiglipImageProcessor`` or the ``SiglipProcessor`` returned by
                ``load_vision_language_model``; its ``size``/``crop_size``, ``image_mean``,
                ``image_std`` and ``resample`` are read.
            resize: Override the resize policy; by default ``"crop"`` when the processor
                centre-crops (CLIP) and ``"square"`` otherwise (SigLIP, ViT).

        Raises:
            ValueError: The processor has no fixed square output size.
        """
        proc = getattr(processor, "image_processor", processor)
        crops = bool(getattr(proc, "do_center_crop", False))
        size = _processor_size(proc, crops)
        mean = getattr(proc, "image_mean", None) or 0.5
        std = getattr(proc, "image_std", None) or 0.5
        resample = getattr(proc, "resample", 3)
        mode = _PIL_TO_TORCH.get(int(resample) if resample is not None else 3, "bicubic")
        return cls(
            size, mean, std, resize=resize or ("crop" if crops else "square"), interpolation=mode
        )


def _field(size: Any, key: str) -> int | None:
    """Read ``key`` from a dict-like or attribute-style size spec (``SizeDict`` in v5)."""
    if size is None:
        return None
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return int(value) if value else None


def _processor_size(proc: Any, crops: bool) -> int:
    size = getattr(proc, "crop_size", None) if crops else getattr(proc, "size", None)
    if isinstance(size, int):
        return size
    height, width = _field(size, "height"), _field(size, "width")
    if height and width:
        if height != width:
            raise ValueError(f"processor output {height}x{width} is not square")
        return height
    edge = _field(size, "shortest_edge")
    if edge:
        return edge
    raise ValueError(
        f"{type(proc).__name__} has no fixed output size (size={size!r}); pass "
        "FrameTransform(size=..., mean=..., std=...) explicitly"
    )
