"""What one stream of a ``neuroflow-stream`` run writes: embeddings, masks, overlays, rows.

Layout under the run directory, per stream::

    streams/<name>/embeddings.npy        [T, D] float32 (or embeddings.safetensors, which
    streams/<name>/keep_masks.npy        [T, N] bool     holds both tensors)
    streams/<name>/overlay.mp4           recomputed patches tinted on the original frames
    streams/<name>/overlay.gif           the same, downscaled, first ``gif_frames`` frames
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from neuroflow.stream.engine import StreamFrame
from neuroflow.viz import Mp4Writer, overlay_mask, write_gif

EmbeddingFormat = Literal["npy", "safetensors", "none"]


@dataclass(frozen=True)
class OutputSettings:
    """What every stream writes.

    Attributes:
        embeddings: ``"npy"``, ``"safetensors"`` or ``"none"``.
        overlay: Write ``overlay.mp4``.
        gif: Write ``overlay.gif``.
        gif_frames: Frames in the GIF (its first ones).
        gif_max_side: Longest side of the GIF in pixels.
        overlay_max_side: Downscale overlay frames whose longest side exceeds this (None:
            the original size).
        window: Frames per window label (labels only).
    """

    embeddings: EmbeddingFormat = "npy"
    overlay: bool = True
    gif: bool = True
    gif_frames: int = 48
    gif_max_side: int = 320
    overlay_max_side: int | None = 960
    window: int = 8

    def __post_init__(self) -> None:
        if self.embeddings not in ("npy", "safetensors", "none"):
            raise ValueError(
                f"embeddings must be 'npy', 'safetensors' or 'none', got {self.embeddings!r}"
            )
        if self.window < 1 or self.gif_frames < 1:
            raise ValueError(
                f"window and gif_frames must be >= 1, got {self.window}, {self.gif_frames}"
            )


class StreamOutputs:
    """Collects one stream's results and writes its files.

    Args:
        folder: The stream's output folder.
        fps: Frame rate of the overlay video.
        settings: What to write.
    """

    def __init__(self, folder: Path, fps: float, settings: OutputSettings) -> None:
        self.folder, self.fps, self.settings = Path(folder), float(fps), settings
        self.embeddings: list[torch.Tensor] = []
        self.masks: list[torch.Tensor] = []
        self.gif: list[np.ndarray] = []
        self._video: Mp4Writer | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the overlay frames
        self.files: dict[str, str] = {}

    def add(self, result: StreamFrame, raw: torch.Tensor) -> None:
        """Record one frame: its result and the original uint8 ``[H, W, 3]`` frame."""
        self.embeddings.append(result.embedding.float().cpu())
        self.masks.append(result.keep_mask.cpu())
        if not (self.settings.overlay or self.settings.gif):
            return
        picture = overlay_mask(self._resized(raw), result.keep_mask.cpu(), result.grid)
        if self.settings.overlay:
            if self._video is None:
                self._video = Mp4Writer(self.folder / "overlay.mp4", self.fps)
            self._video.write(picture)
        if self.settings.gif and len(self.gif) < self.settings.gif_frames:
            self.gif.append(picture)

    def _resized(self, raw: torch.Tensor) -> np.ndarray:
        """The frame at the overlay size (fixed by the first frame; later sizes follow it)."""
        image = Image.fromarray(raw.cpu().numpy())
        if self._size is None:
            width, height = image.size
            limit = self.settings.overlay_max_side
            if limit is not None and max(width, height) > limit:
                scale = limit / max(width, height)
                width, height = max(1, round(width * scale)), max(1, round(height * scale))
            self._size = (width, height)
        if image.size != self._size:
            image = image.resize(self._size, Image.Resampling.BILINEAR)
        return np.asarray(image)

    def close(self) -> dict[str, str]:
        """Write the files; returns ``{kind: path}`` of what was written."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.embeddings:
            self._write_tensors()
        if self._video is not None:
            self._video.close()
            self.files["overlay"] = str(self._video.path)
        if self.gif:
            gif = np.stack(self.gif)
            path = write_gif(self.folder / "overlay.gif", gif, self.fps, self.settings.gif_max_side)
            self.files["gif"] = str(path)
        return self.files

    def _write_tensors(self) -> None:
        embeddings = torch.stack(self.embeddings)
        masks = torch.stack(self.masks)
        if self.settings.embeddings == "npy":
            np.save(self.folder / "embeddings.npy", embeddings.numpy())
            np.save(self.folder / "keep_masks.npy", masks.numpy())
            self.files["embeddings"] = str(self.folder / "embeddings.npy")
            self.files["keep_masks"] = str(self.folder / "keep_masks.npy")
        elif self.settings.embeddings == "safetensors":
            from safetensors.torch import save_file

            path = self.folder / "embeddings.safetensors"
            save_file({"embeddings": embeddings, "keep_masks": masks.to(torch.uint8)}, str(path))
            self.files["embeddings"] = str(path)
