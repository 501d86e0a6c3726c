"""Optional route through HF ``datasets``: ``load_dataset("videofolder", data_dir=...)``.

Only the index comes from ``datasets`` (paths and ``ClassLabel`` names from sub-folders);
frames are still decoded by PyAV, so torchcodec is not needed (the video column is cast to
``Video(decode=False)``).
"""

from __future__ import annotations

from pathlib import Path

from neuroflow.data.clips import ClipRef, ClipSource
from neuroflow.data.errors import DatasetNotFoundError
from neuroflow.data.records import skip_record

# Files the builder reads as metadata rather than clips (datasets' folder-based builders).
HF_METADATA_NAMES = frozenset({"metadata.csv", "metadata.jsonl", "metadata.parquet"})
# Top-level folder names the builder reads as splits; files of another split are not ours.
SPLIT_DIRS = frozenset({"train", "training", "test", "testing", "val", "valid", "validation"})


def _other_split(rel: Path, split: str) -> bool:
    first = rel.parts[0].lower() if len(rel.parts) > 1 else ""
    return first in SPLIT_DIRS and first[:3] != split.lower()[:3]


def _unindexed(data_dir: Path, indexed: set[Path], split: str) -> list[dict]:
    """Skip records for files of this split under ``data_dir`` that the builder left out."""
    from neuroflow.data.folders import scan_files

    return [
        skip_record(
            p.relative_to(data_dir).as_posix(),
            p,
            error="NotAVideoError",
            message="not a video: HF videofolder did not index it (suffix not in its list)",
        )
        for p in scan_files(data_dir)
        if p.resolve() not in indexed
        and p.name not in HF_METADATA_NAMES
        and not _other_split(p.relative_to(data_dir), split)
    ]


def hf_videofolder_source(
    data_dir: str | Path, split: str = "train", cache_dir: str | Path | None = None
) -> ClipSource:
    """Index a video folder with HF ``datasets``' ``videofolder`` builder.

    Args:
        data_dir: Folder laid out as ``<Class>/<clip>`` (or with ``train/``/``test/`` parts).
        split: Which split ``datasets`` should return.
        cache_dir: Where ``datasets`` writes its Arrow cache.

    Files under ``data_dir`` that the builder leaves out (other than hidden files and its
    metadata files, and files under another split's top-level folder such as ``test/`` when
    ``split="train"``) are in ``skipped``, so nothing present goes uncounted.

    Raises:
        ImportError: ``datasets`` (with its ``Video`` feature) is not installed.
        DatasetNotFoundError: ``data_dir`` is missing.
    """
    try:
        from datasets import Video, load_dataset
    except ImportError as err:  # optional dependency
        raise ImportError("the videofolder route needs `pip install datasets`") from err
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DatasetNotFoundError(f"video folder not found: {data_dir}")
    kwargs = {"cache_dir": str(cache_dir)} if cache_dir else {}
    ds = load_dataset("videofolder", data_dir=str(data_dir), split=split, **kwargs)
    ds = ds.cast_column("video", Video(decode=False))
    names = list(ds.features["label"].names) if "label" in ds.features else []
    clips = []
    for row in ds:
        path = Path(row["video"]["path"])
        rel = path.relative_to(data_dir).as_posix() if path.is_relative_to(data_dir) else path.name
        clips.append(ClipRef(rel, path, int(row.get("label", -1))))
    meta = {"source": "hf_videofolder", "root": str(data_dir), "split": split}
    skipped = _unindexed(data_dir, {c.path.resolve() for c in clips}, split)
    return ClipSource(clips, names, skipped, meta=meta)
