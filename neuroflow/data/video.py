"""Decode video files into uint8 RGB tensors with PyAV.

Frames come out as ``uint8`` tensors in ``[H, W, 3]`` RGB order whatever the source pixel
format: grayscale, paletted, YUV and RGBA sources are converted by FFmpeg's swscale (alpha is
dropped). Decoding is strictly sequential and seek-free: seeking lands on keyframes and is
unreliable across codecs and damaged files, so frames are selected by counting decoded frames.

Errors carry the file name and say what went wrong: a missing file raises
:class:`FileNotFoundError`; an empty, corrupt or truncated file raises
:class:`~neuroflow.data.errors.VideoDecodeError`; a request past the last decodable frame raises
:class:`~neuroflow.data.errors.FrameIndexError` carrying how many frames did decode.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from neuroflow.data.errors import FrameIndexError, VideoDecodeError


@dataclass(frozen=True)
class VideoInfo:
    """Container-level facts about a video file.

    Attributes:
        frames: Frame count (from the header, or counted by demuxing when the header has none).
        fps: Average frame rate (0.0 when the container does not say).
        width: Frame width in pixels.
        height: Frame height in pixels.
        codec: FFmpeg codec name, e.g. ``"h264"``.
        duration: Duration in seconds, ``None`` when unknown.
    """

    frames: int
    fps: float
    width: int
    height: int
    codec: str
    duration: float | None


@contextmanager
def _open_video(path: str | Path) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    """Open ``path`` and yield the container with its first video stream, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        raise VideoDecodeError(f"{path}: cannot open as a video ({err})") from err
    try:
        if not container.streams.video:
            raise VideoDecodeError(f"{path}: the container has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        # A file cut inside or right after its header (an MP4's moov) can open with a stream
        # that carries no codec parameters; PyAV then has no codec context at all.
        if ctx is None or not ctx.width or not ctx.height:
            raise VideoDecodeError(
                f"{path}: the video stream has no codec parameters (truncated header?)"
            )
        stream.thread_type = "AUTO"  # frame threading is safe here: decoding is sequential
        yield container, stream
    finally:
        container.close()


def count_frames(path: str | Path) -> int:
    """Count the video packets in ``path`` by demuxing (cheap: nothing is decoded).

    The count can exceed the number of decodable frames of a damaged file.
    """
    with _open_video(path) as (container, stream):
        try:
            return sum(1 for packet in container.demux(stream) if packet.size)
        except av.error.FFmpegError as err:
            raise VideoDecodeError(f"{path}: demuxing failed ({err})") from err


def video_info(path: str | Path) -> VideoInfo:
    """Read the frame count, frame rate, size and codec of a video.

    Args:
        path: Video file.

    Returns:
        A :class:`VideoInfo`; ``frames`` is counted by demuxing when the header lacks it.
    """
    with _open_video(path) as (_, stream):
        ctx = stream.codec_context
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        duration = float(stream.duration * stream.time_base) if stream.duration else None
        frames, info = stream.frames, (fps, ctx.width, ctx.height, ctx.name, duration)
    if frames <= 0:  # Matroska/WebM and some AVIs leave the count out of the header
        frames = count_frames(path)
    return VideoInfo(frames, *info)


def _to_tensor(frame: av.VideoFrame) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame.to_ndarray(format="rgb24")))


def _is_gray(fmt: av.VideoFormat) -> bool:
    colour = [c for c in fmt.components if not c.is_alpha]
    return len(colour) == 1 and not fmt.has_palette


def _to_rgb(frame: av.VideoFrame) -> tuple[torch.Tensor, dict]:
    """RGB tensor of one frame and the colour recoveries it needed (see ``read_frames_recorded``).

    Alpha counts as dropped only where a pixel is not opaque: GIF, for one, always decodes
    to BGRA, and discarding an all-255 channel loses nothing.
    """
    fmt = frame.format
    notes = {"gray_to_rgb": {"source": fmt.name}} if _is_gray(fmt) else {}
    if not any(c.is_alpha for c in fmt.components):
        return _to_tensor(frame), notes
    rgba = frame.to_ndarray(format="rgba")
    if (rgba[..., 3] < 255).any():
        notes["alpha_dropped"] = {"source": fmt.name}
    return torch.from_numpy(np.ascontiguousarray(rgba[..., :3])), notes


def _decode(path: str | Path) -> Iterator[av.VideoFrame]:
    """Yield every decodable frame; a decoding failure stops with a message naming the frame.

    Frames stay in the decoder's pixel format; callers convert only the ones they keep (the
    RGB conversion costs about as much as decoding).
    """
    with _open_video(path) as (container, stream):
        index = 0
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.error.FFmpegError as err:
                raise FrameIndexError(
                    f"{path}: decoding failed after {index} frames ({err})", available=index
                ) from err
            yield frame
            index += 1


def iter_frames(
    path: str | Path, stride: int = 1, start: int = 0, max_frames: int | None = None
) -> Iterator[torch.Tensor]:
    """Stream frames one at a time without holding the video in memory.

    Args:
        path: Video file.
        stride: Keep every ``stride``-th decoded frame.
        start: Index of the first frame to keep.
        max_frames: Stop after yielding this many frames.

    Yields:
        uint8 tensors ``[H, W, 3]`` (RGB). A mid-stream resolution change is passed through
        as is, so a streaming consumer sees the new size.
    """
    if stride < 1 or start < 0:
        raise ValueError(f"need stride >= 1 and start >= 0, got stride={stride}, start={start}")
    yielded = 0
    for index, frame in enumerate(_decode(path)):
        if max_frames is not None and yielded >= max_frames:
            return
        if index >= start and (index - start) % stride == 0:
            yield _to_tensor(frame)
            yielded += 1


def _check_indices(indices: Sequence[int]) -> list[int]:
    wanted = [int(i) for i in indices]
    if any(i < 0 for i in wanted):
        raise ValueError(f"frame indices must be >= 0, got {min(wanted)}")
    return wanted


def _stack(path: str | Path, frames: list[torch.Tensor]) -> torch.Tensor:
    shapes = {tuple(f.shape) for f in frames}
    if len(shapes) > 1:
        raise VideoDecodeError(f"{path}: frame size changes mid-stream ({sorted(shapes)})")
    return torch.stack(frames)


def read_frames(
    path: str | Path, indices: Sequence[int] | None = None, max_frames: int | None = None
) -> torch.Tensor:
    """Decode selected frames of a video into one tensor.

    Decoding is sequential and stops after the largest requested index, so reading the first
    frames of a long video is cheap.

    Args:
        path: Video file.
        indices: Frame indices to return, in the order given (repeats allowed). ``None`` reads
            every frame.
        max_frames: With ``indices=None``, read at most this many leading frames.

    Returns:
        uint8 tensor ``[T, H, W, 3]`` in RGB order; ``T == len(indices)`` when indices are
        given. A file with no frames and ``indices=None`` gives ``[0, H, W, 3]``.

    Raises:
        FrameIndexError: An index lies past the last decodable frame (``.available`` says how
            many decoded).
        VideoDecodeError: The file cannot be opened, or the frame size changes mid-stream.
    """
    if indices is not None and max_frames is not None:
        raise ValueError("pass either indices or max_frames, not both")
    if indices is None:
        frames = list(iter_frames(path, max_frames=max_frames))
        if not frames:
            with _open_video(path) as (_, stream):
                shape = (0, stream.codec_context.height, stream.codec_context.width, 3)
            return torch.empty(shape, dtype=torch.uint8)
        return _stack(path, frames)
    return read_frames_recorded(path, indices)[0]


def read_frames_recorded(path: str | Path, indices: Sequence[int]) -> tuple[torch.Tensor, dict]:
    """Like ``read_frames(path, indices)``, also saying how the frames were made RGB.

    Returns:
        ``(frames uint8 [T, H, W, 3], colour policy)``: the policy holds
        ``{"gray_to_rgb": {"source": pix_fmt}}`` when the video is single-channel (replicated
        to three) and ``{"alpha_dropped": {"source": pix_fmt}}`` when a kept frame had a
        non-opaque pixel; ``{}`` otherwise.

    Raises:
        FrameIndexError: As :func:`read_frames`.
        VideoDecodeError: As :func:`read_frames`.
    """
    wanted = _check_indices(indices)
    if not wanted:
        raise ValueError("indices is empty")
    last, keep = max(wanted), set(wanted)
    kept: dict[int, torch.Tensor] = {}
    policy: dict = {}
    decoded = 0
    for index, frame in enumerate(_decode(path)):
        decoded = index + 1
        if index in keep:
            kept[index], notes = _to_rgb(frame)
            policy.update(notes)
        if index == last:
            return _stack(path, [kept[i] for i in wanted]), policy
    raise FrameIndexError(
        f"{path}: frame {last} requested but only {decoded} frames decode", available=decoded
    )
