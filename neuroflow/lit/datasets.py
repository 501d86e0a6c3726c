"""Dataset factories the ``dataset`` config group points at.

Each takes the run's frame ``transform`` (built from the model's processor) and returns a
torch ``Dataset`` of clip dicts (``frames [T, 3, S, S]``, ``label``, ``clip_id``) with
``class_names`` (prompt text, in label order) and ``skipped`` (clips that could not be
used, with the reason). Batch them with :func:`neuroflow.data.dataset.collate_clips`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from neuroflow.data.classnames import prettify_class_name
from neuroflow.data.factory import build_clip_dataset
from neuroflow.data.transforms import FrameTransform
from neuroflow.glyphs.backgrounds import Split
from neuroflow.glyphs.clips import ClipSpec, make_clips
from neuroflow.glyphs.render import CLASS_NAMES


class MovingGlyphs(Dataset):
    """The deterministic moving-glyphs test clips, transformed for the model.

    Args:
        transform: Frame transform.
        size: Number of clips.
        num_frames: Frames per clip.
        seed: Set seed (the test set is seed 0).
        split: Background photos: ``"heldout"`` (every evaluation) or ``"train"`` (the
            photos the model was trained on; for distillation).
        **spec: Further :class:`~neuroflow.glyphs.clips.ClipSpec` fields (noise, pan,
            distractors, change, ...).
    """

    def __init__(
        self,
        transform: FrameTransform,
        size: int = 200,
        num_frames: int = 16,
        seed: int = 0,
        split: Split = "heldout",
        **spec: Any,
    ) -> None:
        spec_ = ClipSpec(frames=num_frames, **spec)
        self.clips = make_clips(size, spec_, seed=seed, split=split)
        self.transform = transform
        self.class_names = list(CLASS_NAMES)
        self.skipped: list[dict] = []

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        frames = torch.from_numpy(self.clips.frames[index])
        # Rendered clips are never recovered; the empty policy keeps the item format of
        # ClipDataset, so every evaluated clip has a policy (and a "" recovery in its record).
        return {
            "frames": self.transform(frames),
            "label": int(self.clips.labels[index]),
            "clip_id": f"glyphs-{index:04d}",
            "policy": {},
            "indices": torch.arange(frames.shape[0]),
        }


def check_prompt_names(names: list[str]) -> list[str]:
    """Refuse prompt texts that repeat: two labels with one prompt can never be told apart.

    Raises:
        ValueError: Naming the text and both labels.
    """
    first: dict[str, int] = {}
    for label, name in enumerate(names):
        key = " ".join(name.lower().split())
        if key in first:
            raise ValueError(
                f"class prompt {name!r} is given for labels {first[key]} and {label}; "
                "each class needs its own text"
            )
        first[key] = label
    return names


def clip_dataset(
    transform: FrameTransform,
    source: str,
    path: str | None = None,
    class_names: list[str] | None = None,
    **kwargs: Any,
) -> Dataset:
    """Any :func:`neuroflow.data.factory.build_clip_dataset` source, with prompt class names.

    Args:
        transform: Frame transform.
        source: ``ucf101``, ``video_folder``, ``hf_videofolder``, ``video``, ``frames`` or
            ``synthetic``.
        path: Root, file or folder of the source.
        class_names: Prompt text per label; default: the source's class names in words
            ("ApplyEyeMakeup" -> "apply eye makeup"); a text given twice is an error.
        **kwargs: Further ``build_clip_dataset`` arguments (``num_frames``, ``size``, ``seed``,
            ``clip_list``, ``index_kwargs``, ...).
    """
    dataset = build_clip_dataset(source, path, transform=transform, **kwargs)
    classes = getattr(dataset, "classes", [])
    dataset.class_names = check_prompt_names(
        list(class_names) if class_names else [prettify_class_name(c) for c in classes]
    )
    return dataset
