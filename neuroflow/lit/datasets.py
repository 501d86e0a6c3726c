"""Dataset factories the ``dataset`` config group points at.

Each takes the run's frame ``transform`` (built from the model's processor) and returns a
torch ``Dataset`` of clip dicts (``frames [T, 3, S, S]``, ``label``, ``clip_id``) with
``class_names`` (prompt text, in label order) and ``skipped`` (clips that could not be
used, with the reason). Batch them with :func:`neuroflow.data.dataset.collate_clips`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from neuroflow.data.clips import ClipSampling
from neuroflow.data.dataset import ClipDataset
from neuroflow.data.folders import single_video_source, video_folder_source
from neuroflow.data.subsets import load_clip_list, save_clip_list, select_clips, stratified_subset
from neuroflow.data.transforms import FrameTransform
from neuroflow.data.ucf101 import prompt_names, ucf101_source
from neuroflow.glyphs.clips import ClipSpec, make_clips
from neuroflow.glyphs.render import CLASS_NAMES


class MovingGlyphs(Dataset):
    """The deterministic moving-glyphs test clips, transformed for the model.

    Args:
        transform: Frame transform.
        num_clips: Number of clips.
        num_frames: Frames per clip.
        seed: Set seed (the test set is seed 0).
        **spec: Further :class:`~neuroflow.glyphs.clips.ClipSpec` fields (noise, pan,
            distractors, change, ...).
    """

    def __init__(
        self,
        transform: FrameTransform,
        num_clips: int = 200,
        num_frames: int = 16,
        seed: int = 0,
        **spec: Any,
    ) -> None:
        self.clips = make_clips(num_clips, ClipSpec(frames=num_frames, **spec), seed=seed)
        self.transform = transform
        self.class_names = list(CLASS_NAMES)
        self.skipped: list[dict] = []

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        return {
            "frames": self.transform(torch.from_numpy(self.clips.frames[index])),
            "label": int(self.clips.labels[index]),
            "clip_id": f"glyphs-{index:04d}",
            "policy": {},
        }


def ucf101(
    transform: FrameTransform,
    root: str,
    split: int = 1,
    subset: str = "test",
    num_clips: int | None = 500,
    num_frames: int = 16,
    seed: int = 0,
    clip_list: str | None = None,
    save_list_to: str | None = None,
    index: str = "files",
) -> ClipDataset:
    """UCF-101 split clips, a seeded stratified subset of ``num_clips`` (None: all).

    ``clip_list`` reuses a saved list exactly; ``save_list_to`` writes the list used (the
    evaluation CLI saves it into the run directory).
    """
    source = ucf101_source(root, split=split, subset=subset, index=index)
    skipped = list(source.skipped)
    if clip_list:
        ids, _ = load_clip_list(clip_list)
        clips, missing = select_clips(source.clips, ids)
        skipped += missing
    elif num_clips:
        clips = stratified_subset(source.clips, int(num_clips), seed=seed)
    else:
        clips = list(source.clips)
    if save_list_to:
        save_clip_list(save_list_to, clips, dict(source.meta, seed=seed, num_clips=num_clips))
    dataset = ClipDataset(
        clips, source.classes, ClipSampling(num_frames=num_frames), transform, skipped
    )
    dataset.class_names = prompt_names(source.classes)
    return dataset


def video_folder(transform: FrameTransform, root: str, num_frames: int = 16) -> ClipDataset:
    """A folder of videos labelled by sub-folder name."""
    dataset = ClipDataset.from_source(
        video_folder_source(root), sampling=ClipSampling(num_frames=num_frames), transform=transform
    )
    dataset.class_names = [c.replace("_", " ") for c in dataset.classes]
    return dataset


def single_video(
    transform: FrameTransform,
    path: str,
    class_names: list[str],
    label: int = -1,
    num_frames: int = 16,
) -> ClipDataset:
    """One video file as one clip; ``class_names`` are the labels to score it against."""
    dataset = ClipDataset.from_source(
        single_video_source(Path(path), label=label),
        sampling=ClipSampling(num_frames=num_frames),
        transform=transform,
    )
    dataset.class_names = list(class_names)
    return dataset
