"""Build a clip dataset from plain arguments (what a config file or a CLI passes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuroflow.data.clips import ClipSampling, ClipSource
from neuroflow.data.dataset import ClipDataset, Transform
from neuroflow.data.folders import frame_folder_source, single_video_source, video_folder_source
from neuroflow.data.hf_videofolder import hf_videofolder_source
from neuroflow.data.subsets import load_clip_list, save_clip_list, select_clips, stratified_subset
from neuroflow.data.synthetic import SceneConfig
from neuroflow.data.synthetic_dataset import SyntheticClipDataset
from neuroflow.data.transforms import FrameTransform
from neuroflow.data.ucf101 import ucf101_source

SOURCES = ("ucf101", "video_folder", "hf_videofolder", "video", "frames", "synthetic")


def index_source(source: str, path: str | Path, **kwargs: Any) -> ClipSource:
    """Index clips of one source kind.

    Args:
        source: One of ``SOURCES`` except ``"synthetic"``.
        path: Dataset root, video file or frame folder.
        **kwargs: Passed to the indexer (e.g. ``split``, ``subset`` for UCF-101).
    """
    indexers = {
        "ucf101": ucf101_source,
        "video_folder": video_folder_source,
        "hf_videofolder": hf_videofolder_source,
        "video": single_video_source,
        "frames": frame_folder_source,
    }
    if source not in indexers:
        raise ValueError(f"unknown clip source {source!r}; choose one of {SOURCES}")
    return indexers[source](path, **kwargs)


def subset_source(
    source: ClipSource, size: int | None, seed: int = 0, clip_list: str | Path | None = None
) -> ClipSource:
    """Restrict a source to a seeded stratified subset, reusing or writing ``clip_list``.

    If ``clip_list`` exists it is loaded and wins (ids absent from the index are recorded as
    skipped); otherwise a subset of ``size`` is drawn and, when ``clip_list`` is given, saved.
    """
    if clip_list is not None and Path(clip_list).is_file():
        ids, meta = load_clip_list(clip_list)
        clips, missing = select_clips(source.clips, ids)
        return ClipSource(
            clips,
            source.classes,
            source.skipped + missing,
            {**source.meta, "clip_list": str(clip_list), "subset": meta},
        )
    if size is None or size >= len(source.clips):
        chosen, drawn = source.clips, {"size": len(source.clips), "seed": None}
    else:
        chosen, drawn = stratified_subset(source.clips, size, seed), {"size": size, "seed": seed}
    meta = {**source.meta, "subset": drawn}
    if clip_list is not None:
        save_clip_list(clip_list, chosen, meta)
        meta["clip_list"] = str(clip_list)
    return ClipSource(list(chosen), source.classes, list(source.skipped), meta)


def build_clip_dataset(
    source: str,
    path: str | Path | None = None,
    num_frames: int = 16,
    sampling: str = "uniform",
    stride: int = 1,
    start: int = 0,
    transform: Transform | None = None,
    size: int | None = None,
    seed: int = 0,
    clip_list: str | Path | None = None,
    probe: bool = True,
    index_kwargs: dict | None = None,
    synthetic: dict | None = None,
) -> ClipDataset | SyntheticClipDataset:
    """One call from arguments to a ready dataset.

    Args:
        source: One of ``SOURCES``.
        path: Root / file / folder (unused for ``"synthetic"``).
        num_frames: T per clip.
        sampling: ``"uniform"`` or ``"consecutive"``.
        stride: Frame spacing for ``"consecutive"``.
        start: First frame for ``"consecutive"``.
        transform: Frame transform; defaults to ``FrameTransform(224)``.
        size: Number of clips of a seeded stratified subset (``None``: all; for
            ``"synthetic"``: number of scenes, default 8).
        seed: Subset seed (scene seed for ``"synthetic"``).
        clip_list: Subset file to reuse if present, or to write.
        probe: Check every clip's header up front (bad clips go to ``skipped``).
        index_kwargs: Extra indexer arguments (``split``, ``subset``, ``splits_dir``, ...).
        synthetic: :class:`SceneConfig` fields for ``"synthetic"``.
    """
    if source == "synthetic":
        cfg = SceneConfig(**{"num_frames": num_frames, **(synthetic or {})})
        return SyntheticClipDataset(size or 8, cfg, seed=seed, transform=transform)
    if path is None:
        raise ValueError(f"source {source!r} needs a path")
    indexed = subset_source(
        index_source(source, path, **(index_kwargs or {})), size, seed, clip_list
    )
    clip_sampling = ClipSampling(num_frames, sampling, stride, start)
    return ClipDataset.from_source(
        indexed, sampling=clip_sampling, transform=transform or FrameTransform(224), probe=probe
    )
