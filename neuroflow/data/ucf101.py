"""Index a local UCF-101 copy with the official train/test split files.

Expected layout (what unpacking the two official archives gives)::

    <root>/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi     (UCF101.rar)
    <root>/ucfTrainTestlist/classInd.txt                           (1 ApplyEyeMakeup)
    <root>/ucfTrainTestlist/testlist01.txt                         (ApplyEyeMakeup/v_..._c01.avi)
    <root>/ucfTrainTestlist/trainlist01.txt                        (ApplyEyeMakeup/v_..._c01.avi 1)

``root`` may also point at the ``UCF-101`` folder itself, with ``ucfTrainTestlist`` inside it
or next to it. Labels are 0-based (``classInd`` number minus one).
"""

from __future__ import annotations

from pathlib import Path

from neuroflow.data.classnames import check_unique_names, prettify_class_name, ucf101_class_names
from neuroflow.data.clips import ClipRef, ClipSource
from neuroflow.data.errors import DatasetNotFoundError
from neuroflow.data.records import skip_record

UCF101_URL = "https://www.crcv.ucf.edu/data/UCF101.php"
SPLITS_DIRNAME = "ucfTrainTestlist"
VIDEOS_DIRNAME = "UCF-101"
SUBSETS = ("train", "test")
LAYOUT_HELP = (
    f"Get UCF-101 from {UCF101_URL}: unpack UCF101.rar (the videos) and "
    "UCF101TrainTestSplits-RecognitionTask.zip (the splits) into one folder so that it holds\n"
    "  <root>/UCF-101/<Class>/v_<Class>_gXX_cXX.avi\n"
    "  <root>/ucfTrainTestlist/{classInd.txt, testlist0{1,2,3}.txt, trainlist0{1,2,3}.txt}\n"
    "then pass that folder as root."
)


def resolve_layout(root: str | Path, splits_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Find the video folder and the split folder of a UCF-101 copy.

    Returns:
        ``(videos_dir, splits_dir)``.

    Raises:
        DatasetNotFoundError: Either folder is missing; the message explains the layout.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"UCF-101 root {root} does not exist. {LAYOUT_HELP}")
    videos = root / VIDEOS_DIRNAME if (root / VIDEOS_DIRNAME).is_dir() else root
    candidates = (
        [Path(splits_dir)]
        if splits_dir
        else [root / SPLITS_DIRNAME, videos / SPLITS_DIRNAME, videos.parent / SPLITS_DIRNAME]
    )
    found = next((c for c in candidates if c.is_dir()), None)
    if found is None:
        tried = ", ".join(str(c) for c in candidates)
        raise DatasetNotFoundError(f"UCF-101 split folder not found (tried {tried}). {LAYOUT_HELP}")
    return videos, found


def _lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of a split file as ``(1-based line number, stripped text)``."""
    if not path.is_file():
        raise DatasetNotFoundError(f"UCF-101 split file missing: {path}. {LAYOUT_HELP}")
    text = path.read_text(encoding="utf-8")
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_class_index(path: str | Path) -> list[str]:
    """Parse ``classInd.txt`` (``"1 ApplyEyeMakeup"`` per line) into names ordered by label.

    Raises:
        ValueError: A malformed line, a number or a class name given twice (the message names
            the file, the line and the entry), or numbers that are not ``1..n``.
    """
    entries: dict[int, tuple[int, str]] = {}
    for lineno, line in _lines(Path(path)):
        number, _, name = line.partition(" ")
        if not number.isdigit() or not name.strip():
            raise ValueError(
                f"{path}, line {lineno}: bad line {line!r} (expected '<number> <ClassName>')"
            )
        if int(number) in entries:
            raise ValueError(
                f"{path}, line {lineno}: class number {number} is duplicated "
                f"(first on line {entries[int(number)][0]})"
            )
        entries[int(number)] = (lineno, name.strip())
    check_unique_names(entries.values(), str(path))
    if sorted(entries) != list(range(1, len(entries) + 1)):
        raise ValueError(f"{path}: class numbers are not 1..{len(entries)}")
    return [entries[i][1] for i in range(1, len(entries) + 1)]


def read_split_file(path: str | Path) -> list[tuple[str, int | None]]:
    """Parse a test/train list: ``(relative path, 1-based label or None)`` per line.

    Raises:
        ValueError: A bad label, or a clip listed twice (compared case-insensitively, as
            clips are found on disk); the message names the file, the line and the clip.
    """
    out, first = [], {}
    for lineno, line in _lines(Path(path)):
        rel, _, label = line.partition(" ")
        rel, label = rel.replace("\\", "/"), label.strip()
        if label and not label.isdigit():
            raise ValueError(f"{path}, line {lineno}: bad label in line {line!r}")
        if rel.lower() in first:
            raise ValueError(
                f"{path}, line {lineno}: clip {rel!r} is duplicated "
                f"(first on line {first[rel.lower()]})"
            )
        first[rel.lower()] = lineno
        out.append((rel, int(label) if label else None))
    return out


class _Finder:
    """Locate listed files, tolerating case differences between lists and disk.

    With ``files`` given (an index built elsewhere, e.g. by HF ``videofolder``), only those
    files count as present.
    """

    def __init__(self, videos: Path, files: dict[str, Path] | None = None) -> None:
        self.videos, self.files = videos, files
        self._listings: dict[str, dict[str, Path]] = {}

    def find(self, rel: str) -> Path | None:
        if self.files is not None:
            return self.files.get(rel.lower())
        path = self.videos / rel
        if path.is_file():
            return path
        folder = path.parent
        if str(folder) not in self._listings:
            files = folder.iterdir() if folder.is_dir() else []
            self._listings[str(folder)] = {p.name.lower(): p for p in files}
        return self._listings[str(folder)].get(path.name.lower())


def _class_names(splits: Path) -> tuple[list[str], str]:
    try:
        return read_class_index(splits / "classInd.txt"), "classInd.txt"
    except DatasetNotFoundError:
        return list(ucf101_class_names()), "bundled list (classInd.txt missing)"


def _hf_files(videos: Path, cache_dir: str | Path | None) -> dict[str, Path]:
    from neuroflow.data.hf_videofolder import hf_videofolder_source

    source = hf_videofolder_source(videos, cache_dir=cache_dir)
    return {clip.clip_id.lower(): clip.path for clip in source.clips}


def ucf101_source(
    root: str | Path,
    split: int = 1,
    subset: str = "test",
    splits_dir: str | Path | None = None,
    index: str = "files",
    cache_dir: str | Path | None = None,
) -> ClipSource:
    """Index one official UCF-101 split.

    Args:
        root: Folder holding ``UCF-101/`` and ``ucfTrainTestlist/`` (see module docstring).
        split: 1, 2 or 3.
        subset: ``"test"`` or ``"train"``.
        splits_dir: Explicit split folder, if it lives elsewhere.
        index: ``"files"`` (look each listed clip up on disk) or ``"hf"`` (index the video
            folder with HF ``datasets``' ``videofolder`` builder first; labels still follow
            ``classInd.txt``, not the builder's alphabetical ``ClassLabel``).
        cache_dir: Arrow cache folder for ``index="hf"``.

    Returns:
        A :class:`ClipSource` whose clip ids are the split-file paths; listed clips absent
        from disk are in ``skipped`` with the reason.

    Raises:
        DatasetNotFoundError: The root, split folder or split file is missing, or none of the
            listed clips exists.
    """
    if split not in (1, 2, 3) or subset not in SUBSETS or index not in ("files", "hf"):
        raise ValueError(
            f"need split in 1, 2, 3, subset in {SUBSETS}, index in ('files', 'hf'); "
            f"got {split}, {subset!r}, {index!r}"
        )
    videos, splits = resolve_layout(root, splits_dir)
    classes, classes_from = _class_names(splits)
    lookup = {name.lower(): i for i, name in enumerate(classes)}
    list_name = f"{subset}list0{split}.txt"
    files = _hf_files(videos, cache_dir) if index == "hf" else None
    finder, clips, skipped = _Finder(videos, files), [], []
    for rel, number in read_split_file(splits / list_name):
        label = lookup.get(rel.split("/")[0].lower())
        if label is None or (number is not None and number - 1 != label):
            raise ValueError(f"{splits / list_name}: {rel!r} does not match classInd ({number})")
        path = finder.find(rel)
        if path is None:
            message = f"listed in {list_name}, not under {videos}"
            skipped.append(
                skip_record(rel, videos / rel, error="FileNotFoundError", message=message)
            )
        else:
            clips.append(ClipRef(rel, path, label))
    if not clips:
        raise DatasetNotFoundError(
            f"none of the clips in {list_name} exist under {videos}. {LAYOUT_HELP}"
        )
    meta = {
        "source": "ucf101",
        "root": str(root),
        "split": split,
        "subset": subset,
        "classes_from": classes_from,
    }
    return ClipSource(clips, classes, skipped, meta)


def prompt_names(classes: list[str]) -> list[str]:
    """Prompt text for each class name (see :func:`prettify_class_name`)."""
    return [prettify_class_name(name) for name in classes]
