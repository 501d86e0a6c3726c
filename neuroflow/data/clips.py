"""Clip references and loading one clip's sampled frames with recorded recoveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from neuroflow.data.errors import EmptyVideoError, FrameIndexError
from neuroflow.data.frames import list_frame_files, read_frame_folder_recorded
from neuroflow.data.sampling import SampledIndices, sample_indices
from neuroflow.data.video import read_frames_recorded, video_info

CLIP_KINDS = ("video", "frames")


@dataclass(frozen=True)
class ClipRef:
    """Where one clip lives and what it is labelled.

    Attributes:
        clip_id: Stable identifier (for UCF-101 the split-file path, e.g.
            ``"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"``).
        path: Video file, or folder of frame images when ``kind == "frames"``.
        label: Class index, ``-1`` when unlabelled.
        kind: ``"video"`` or ``"frames"``.
    """

    clip_id: str
    path: Path
    label: int = -1
    kind: str = "video"

    def __post_init__(self) -> None:
        if self.kind not in CLIP_KINDS:
            raise ValueError(f"unknown clip kind {self.kind!r}; choose one of {CLIP_KINDS}")


@dataclass
class ClipSource:
    """An indexed collection of clips.

    Attributes:
        clips: The clips that exist on disk.
        classes: Class names, indexed by label.
        skipped: Clips (and files) that cannot be used, as records of
            :func:`neuroflow.data.records.skip_record` (``clip_id``, ``path``, ``error``,
            ``message``, ``reason``).
        meta: How the index was built (root, split, ...), saved alongside subsets.
    """

    clips: list[ClipRef]
    classes: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ClipSampling:
    """How frames are chosen from each clip (see :mod:`neuroflow.data.sampling`).

    Attributes:
        num_frames: T.
        mode: ``"uniform"`` or ``"consecutive"``.
        stride: Frame spacing for ``"consecutive"``.
        start: First frame for ``"consecutive"``.
    """

    num_frames: int = 16
    mode: str = "uniform"
    stride: int = 1
    start: int = 0

    def indices(self, available: int) -> SampledIndices:
        """Indices for a clip of ``available`` frames."""
        return sample_indices(available, self.num_frames, self.mode, self.stride, self.start)


def clip_length(clip: ClipRef) -> int:
    """Frames in a clip as its container (or folder) reports them; may overcount damaged files."""
    if clip.kind == "frames":
        return len(list_frame_files(clip.path))
    return video_info(clip.path).frames


def read_clip_frames(clip: ClipRef, indices: list[int]) -> tuple[torch.Tensor, dict]:
    """Decode the given frame indices of a clip: uint8 ``[T, H, W, 3]`` and its colour policy."""
    if clip.kind == "frames":
        return read_frame_folder_recorded(clip.path, indices)
    return read_frames_recorded(clip.path, indices)


def load_clip(
    clip: ClipRef, sampling: ClipSampling, length: int | None = None
) -> tuple[torch.Tensor, list[int], dict]:
    """Sample and decode one clip, recovering from short or partly undecodable files.

    Recoveries (each recorded in the returned policy):

    * ``repeat_last``: the clip has fewer than T frames; the last frame is repeated.
    * ``decoded_short``: fewer frames decode than the container claims (truncated or damaged
      file); indices are re-drawn over the frames that do decode.
    * ``gray_to_rgb``: single-channel source, replicated to three channels.
    * ``alpha_dropped``: a kept frame had non-opaque pixels; the alpha channel is discarded.

    Args:
        clip: The clip.
        sampling: How to pick frames.
        length: Known frame count (skips re-reading the header).

    Returns:
        ``(frames uint8 [T, H, W, 3], indices, policy)``.

    Raises:
        EmptyVideoError: No frame decodes.
        VideoError: The file cannot be opened or read at all.
    """
    length = clip_length(clip) if length is None else length
    if length < 1:
        raise EmptyVideoError(f"{clip.path}: the clip has no frames")
    sampled = sampling.indices(length)
    try:
        frames, colour = read_clip_frames(clip, sampled.indices)
        return frames, sampled.indices, {**sampled.policy, **colour}
    except FrameIndexError as err:
        if err.available < 1:
            raise EmptyVideoError(f"{clip.path}: no frame decodes ({err})") from err
        resampled = sampling.indices(err.available)
        frames, colour = read_clip_frames(clip, resampled.indices)
        policy = dict(resampled.policy)
        policy["decoded_short"] = {"container_frames": length, "decoded": err.available}
        return frames, resampled.indices, {**policy, **colour}
