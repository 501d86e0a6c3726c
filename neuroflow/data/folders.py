"""Generic clip sources: a folder of videos labelled by sub-folder, one video, frame folders."""

from __future__ import annotations

from pathlib import Path

from neuroflow.data.clips import ClipRef, ClipSource
from neuroflow.data.errors import DatasetNotFoundError
from neuroflow.data.frames import list_frame_files

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def video_folder_source(root: str | Path) -> ClipSource:
    """Index ``root/<Class>/**/<clip>.<ext>``; labels come from sorted sub-folder names.

    Videos directly inside ``root`` are included with label ``-1`` (unlabelled).

    Raises:
        DatasetNotFoundError: ``root`` is missing or holds no video.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"video folder not found: {root}")
    classes = sorted(
        p.name for p in root.iterdir() if p.is_dir() and any(map(_is_video, p.rglob("*")))
    )
    labels = {name: i for i, name in enumerate(classes)}
    clips = []
    for path in sorted(p for p in root.rglob("*") if _is_video(p)):
        rel = path.relative_to(root)
        label = labels.get(rel.parts[0], -1) if len(rel.parts) > 1 else -1
        clips.append(ClipRef(rel.as_posix(), path, label))
    if not clips:
        raise DatasetNotFoundError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {root}")
    return ClipSource(clips, classes, meta={"source": "video_folder", "root": str(root)})


def single_video_source(path: str | Path, label: int = -1) -> ClipSource:
    """One video file as a one-clip source (clip id = file name)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetNotFoundError(f"video file not found: {path}")
    return ClipSource(
        [ClipRef(path.name, path, label)], meta={"source": "video", "path": str(path)}
    )


def frame_folder_source(path: str | Path, label: int = -1) -> ClipSource:
    """A folder of frame images as one clip; a folder of such folders gives one clip each.

    Raises:
        DatasetNotFoundError: The folder is missing or holds neither images nor image folders.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"frame folder not found: {path}")
    if list_frame_files(path):
        clips = [ClipRef(path.name, path, label, kind="frames")]
    else:
        subdirs = sorted(p for p in path.iterdir() if p.is_dir() and list_frame_files(p))
        clips = [ClipRef(p.name, p, label, kind="frames") for p in subdirs]
    if not clips:
        raise DatasetNotFoundError(f"no frame images (or folders of them) in {path}")
    return ClipSource(clips, meta={"source": "frames", "path": str(path)})
