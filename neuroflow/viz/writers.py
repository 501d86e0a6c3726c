"""Write uint8 ``[T, H, W, 3]`` clips (e.g. from :func:`~neuroflow.viz.overlay_frames`) to files.

:func:`write_mp4` encodes through PyAV (H.264 when the FFmpeg build has ``libx264``, else
MPEG-4 Part 2); :func:`write_gif` goes through Pillow and loops forever.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from torch import Tensor

from neuroflow.viz.masks import to_numpy


def _check_clip(frames: np.ndarray | Tensor) -> np.ndarray:
    """The clip as a uint8 ``[T, H, W, 3]`` array with ``T >= 1``, else a ValueError naming why."""
    clip = to_numpy(frames)
    if clip.ndim != 4 or clip.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], got shape {clip.shape}")
    if clip.shape[0] == 0 or clip.shape[1] == 0 or clip.shape[2] == 0:
        raise ValueError(f"frames must be non-empty, got shape {clip.shape}")
    if clip.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {clip.dtype}")
    return clip


def _check_fps(fps: float) -> Fraction:
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    # codecs take the rate as a fraction; 1001 covers NTSC rates such as 30000/1001
    return Fraction(fps).limit_denominator(1001)


def _codec() -> str:
    """``libx264`` when this FFmpeg build can encode it, else ``mpeg4`` (always built in)."""
    try:
        av.Codec("libx264", "w")
    except av.codec.codec.UnknownCodecError:
        return "mpeg4"
    return "libx264"


class Mp4Writer:
    """Encode frames into an MP4 (yuv420p) one at a time, so long videos never sit in memory.

    yuv420p stores colour at half resolution, so width and height must be even: an odd
    side is padded by repeating its last pixel row/column, and the video is then one pixel
    larger than the frames on that side. Every frame must have the first frame's size.

    Args:
        path: Output file; parent directories are created.
        fps: Frames per second.

    Use as a context manager (``with Mp4Writer(path, fps) as out: out.write(frame)``); the
    file is complete once it closes.
    """

    def __init__(self, path: str | Path, fps: float = 10.0) -> None:
        self.rate = _check_fps(fps)
        self.path = Path(path)
        self.frames = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._size: tuple[int, int] | None = None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, frame: np.ndarray | Tensor) -> None:
        """Append one uint8 ``[H, W, 3]`` RGB frame."""
        image = _check_clip(to_numpy(frame)[None])[0]
        if self._size is None:
            self._open(image.shape[0], image.shape[1])
        elif image.shape[:2] != self._size:
            raise ValueError(f"frame is {image.shape[:2]} but the video is {self._size}")
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame_av = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        assert self._container is not None and self._stream is not None
        self._container.mux(self._stream.encode(frame_av))
        self.frames += 1

    def _open(self, height: int, width: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._size = (height, width)
        self._container = av.open(str(self.path), mode="w")
        self._stream = self._container.add_stream(_codec(), rate=self.rate)
        self._stream.width, self._stream.height = width + width % 2, height + height % 2
        self._stream.pix_fmt = "yuv420p"

    def close(self) -> None:
        """Flush the frames the encoder still holds and close the file."""
        if self._container is None:
            return
        assert self._stream is not None
        self._container.mux(self._stream.encode())
        self._container.close()
        self._container = None


def write_mp4(path: str | Path, frames: np.ndarray | Tensor, fps: float = 10.0) -> Path:
    """Encode a whole clip as an MP4 (yuv420p; see :class:`Mp4Writer` for odd sizes).

    Args:
        path: Output file; parent directories are created.
        frames: uint8 ``[T, H, W, 3]`` RGB.
        fps: Frames per second.

    Returns:
        The path written.

    Raises:
        ValueError: For an empty, wrongly shaped or non-uint8 clip, or a non-positive fps.
    """
    clip = _check_clip(frames)
    with Mp4Writer(path, fps) as out:
        for image in clip:
            out.write(image)
    return out.path


def _downscale(image: Image.Image, max_side: int | None) -> Image.Image:
    if max_side is None or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = tuple(max(1, round(side * scale)) for side in image.size)
    # area averaging keeps 1-px outlines faintly visible instead of dropping them
    return image.resize(size, Image.Resampling.BOX)


def write_gif(
    path: str | Path,
    frames: np.ndarray | Tensor,
    fps: float = 10.0,
    max_side: int | None = None,
) -> Path:
    """Write a clip as a GIF that loops forever.

    GIF stores delays in hundredths of a second, so ``fps`` is rounded to that. Pillow
    merges consecutive identical frames into one longer frame (timing is kept), so the file
    may hold fewer frames than ``T``.

    Args:
        path: Output file; parent directories are created.
        frames: uint8 ``[T, H, W, 3]`` RGB.
        fps: Frames per second.
        max_side: When set, downscale so the longest side is at most this many pixels.

    Returns:
        The path written.

    Raises:
        ValueError: For an empty, wrongly shaped or non-uint8 clip, a non-positive fps or
            max_side.
    """
    clip = _check_clip(frames)
    _check_fps(fps)
    if max_side is not None and (int(max_side) != max_side or max_side < 1):
        raise ValueError(f"max_side must be a positive integer or None, got {max_side!r}")
    images = [_downscale(Image.fromarray(image), max_side) for image in clip]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(10, round(1000 / fps)),
        loop=0,
    )
    return out
