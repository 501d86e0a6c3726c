"""Synthetic scenes served as a clip dataset (same item format as :class:`ClipDataset`)."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch.utils.data import Dataset

from neuroflow.data.dataset import Transform
from neuroflow.data.synthetic import SceneConfig, make_scene
from neuroflow.data.synthetic_paths import TRAJECTORIES
from neuroflow.data.transforms import FrameTransform


class SyntheticClipDataset(Dataset):
    """``num_clips`` deterministic scenes; clip ``i`` uses seed ``seed + i``.

    Clips cycle through the trajectories (linear, arc, oscillate), which serve as labels, so the
    dataset also works for classification smoke runs. Items carry the ground-truth
    ``"motion_mask"`` ``[T, H // p, W // p]`` next to the usual keys.

    Args:
        num_clips: Dataset length.
        config: Scene template; its ``trajectory`` is overridden per clip.
        seed: Seed of clip 0.
        transform: Applied to the uint8 frames; defaults to ``FrameTransform(config.height)``
            with mean = std = 0.5 (no resize for square scenes).
    """

    classes = list(TRAJECTORIES)

    def __init__(
        self,
        num_clips: int = 8,
        config: SceneConfig | None = None,
        seed: int = 0,
        transform: Transform | None = None,
    ) -> None:
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        self.num_clips, self.seed = num_clips, seed
        self.config = config or SceneConfig()
        self.transform = transform or FrameTransform(self.config.height)
        self.skipped: list[dict] = []  # nothing can fail here; kept for a uniform interface

    def __len__(self) -> int:
        return self.num_clips

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.num_clips:
            raise IndexError(index)
        label = index % len(TRAJECTORIES)
        cfg = replace(self.config, trajectory=TRAJECTORIES[label])
        scene = make_scene(cfg, seed=self.seed + index)
        return {
            "frames": self.transform(scene.frames),
            "label": label,
            "clip_id": f"synthetic/{index:05d}",
            "policy": {},
            "indices": torch.arange(cfg.num_frames),
            "motion_mask": scene.motion_mask,
        }
