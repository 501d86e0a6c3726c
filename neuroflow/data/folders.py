"""Generic clip sources: a folder of videos labelled by sub-folder, one video, frame folders.

A folder scan accounts for every file it finds. In a video folder each regular file is a
clip (its suffix is a video container suffix, :data:`VIDEO_SUFFIXES`), or a skip with error
``NotAVideoError`` ("not a video"), or ignored because it is hidden: names starting with
``.`` (``.DS_Store``, ``._clip.mp4`` resource forks, ``.git/``) and OS litter
(:data:`IGNORED_NAMES`). Sidecars such as ``notes.txt`` or ``labels.csv`` are *not*
ignored: this format reads no metadata files, so they are listed as skipped, which keeps
clips + skipped equal to the files present.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from neuroflow.data.clips import ClipRef, ClipSource
from neuroflow.data.errors import DatasetNotFoundError
from neuroflow.data.frames import list_frame_files
from neuroflow.data.records import skip_record

# Suffixes of containers that hold video, as FFmpeg's demuxers list them (and a few it probes
# by content: .vob, .ogv, .qt, .rmvb). Deliberately generous: a listed file FFmpeg cannot
# read becomes a recorded skip with the decoder's reason, while an unlisted one is only
# "not a video". Image, audio-only, subtitle and text suffixes FFmpeg also demuxes (.png,
# .mp3, .srt, .txt) are left out, since in a video folder they are not clips.
VIDEO_SUFFIXES = tuple(
    sorted(
        f".{ext}"
        for ext in (
            "3g2 3gp amv apng asf avi avs dav divx dv f4v flv gif gxf h261 h263 h264 h265 hevc"
            " 264 265 ivf m1v m2t m2ts m2v m4v mj2 mjpeg mjpg mk3d mkv mov mp4 mpeg mpg mts mxf"
            " nut nuv obu ogg ogv qt rm rmvb roq swf ts vc1 vob webm wmv wtv xmv y4m"
        ).split()
    )
)
IGNORED_NAMES = frozenset({"Thumbs.db", "desktop.ini", "Icon\r"})


def is_hidden(path: Path, root: Path) -> bool:
    """True for OS litter and for anything inside a hidden folder under ``root``."""
    rel = path.relative_to(root).parts
    return path.name in IGNORED_NAMES or any(part.startswith(".") for part in rel)


def scan_files(root: Path) -> list[Path]:
    """Every regular, non-hidden file under ``root``, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not is_hidden(p, root))


def is_video(path: Path) -> bool:
    """True when ``path``'s suffix is a video container suffix (case-insensitive)."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def not_video_skips(files: Iterable[Path], root: Path) -> list[dict]:
    """Skip records for files that a video scan found but cannot treat as clips."""
    return [
        skip_record(
            p.relative_to(root).as_posix(),
            p,
            error="NotAVideoError",
            message=f"not a video: suffix {p.suffix or '(none)'!r} is not one of the "
            "video container suffixes (neuroflow.data.folders.VIDEO_SUFFIXES)",
        )
        for p in files
    ]


def video_folder_source(root: str | Path) -> ClipSource:
    """Index ``root/<Class>/**/<clip>.<ext>``; labels come from sorted sub-folder names.

    Videos directly inside ``root`` are included with label ``-1`` (unlabelled). Every other
    non-hidden file is in ``skipped`` as "not a video" (see the module docstring).

    Raises:
        DatasetNotFoundError: ``root`` is missing or holds no video.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"video folder not found: {root}")
    files = scan_files(root)
    videos = [p for p in files if is_video(p)]
    classes = sorted({p.relative_to(root).parts[0] for p in videos if p.parent != root})
    labels = {name: i for i, name in enumerate(classes)}
    clips = []
    for path in videos:
        rel = path.relative_to(root)
        label = labels.get(rel.parts[0], -1) if len(rel.parts) > 1 else -1
        clips.append(ClipRef(rel.as_posix(), path, label))
    skipped = not_video_skips([p for p in files if not is_video(p)], root)
    if not clips:
        others = f"; found {len(skipped)} other files" if skipped else ""
        raise DatasetNotFoundError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {root}{others}")
    return ClipSource(clips, classes, skipped, meta={"source": "video_folder", "root": str(root)})


def single_video_source(path: str | Path, label: int = -1) -> ClipSource:
    """One video file as a one-clip source (clip id = file name).

    Any suffix is accepted: the file was named explicitly, so the decoder decides.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetNotFoundError(f"video file not found: {path}")
    return ClipSource(
        [ClipRef(path.name, path, label)], meta={"source": "video", "path": str(path)}
    )


def _frame_subfolder_skips(path: Path, used: set[Path]) -> list[dict]:
    """Entries of a folder of frame folders that are not frame folders (each one counted)."""
    skipped = []
    for entry in sorted(path.iterdir()):
        if entry in used or is_hidden(entry, path):
            continue
        what = "folder holds no frame images" if entry.is_dir() else "not a frame folder"
        skipped.append(skip_record(entry.name, entry, error="NotAVideoError", message=what))
    return skipped


def frame_folder_source(path: str | Path, label: int = -1) -> ClipSource:
    """A folder of frame images as one clip; a folder of such folders gives one clip each.

    In a folder of folders, every other non-hidden entry (a loose file, a folder without
    images) is in ``skipped``.

    Raises:
        DatasetNotFoundError: The folder is missing or holds neither images nor image folders.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"frame folder not found: {path}")
    skipped: list[dict] = []
    if list_frame_files(path):
        clips = [ClipRef(path.name, path, label, kind="frames")]
    else:
        subdirs = sorted(p for p in path.iterdir() if p.is_dir() and list_frame_files(p))
        clips = [ClipRef(p.name, p, label, kind="frames") for p in subdirs]
        skipped = _frame_subfolder_skips(path, set(subdirs))
    if not clips:
        raise DatasetNotFoundError(f"no frame images (or folders of them) in {path}")
    return ClipSource(clips, skipped=skipped, meta={"source": "frames", "path": str(path)})
