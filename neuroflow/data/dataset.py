"""A torch ``Dataset`` of sampled, transformed clips that never dies on one bad clip.

Items are dicts::

    {"frames": float [T, 3, S, S], "label": int, "clip_id": str,
     "policy": {recovery: details}, "indices": LongTensor [T]}

A clip that cannot be used (missing, empty, corrupt, no decodable frame) is never dropped
silently: it is appended to ``dataset.skipped`` as ``{"clip_id", "reason"}`` and its item comes
back with ``frames=None`` and an ``"error"`` string, which :func:`collate_clips` moves into the
batch's ``"skipped"`` list. With DataLoader workers, ``dataset.skipped`` of the main process only
holds the skips found before iteration (indexing, :meth:`ClipDataset.probe`); the batches
carry the rest, so consumers record ``batch["skipped"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import av
import torch
from torch.utils.data import Dataset

from neuroflow.data.clips import ClipRef, ClipSampling, ClipSource, clip_length, load_clip
from neuroflow.data.errors import VideoError
from neuroflow.data.transforms import FrameTransform

Transform = Callable[[torch.Tensor], torch.Tensor]
# What one bad clip can raise: our VideoError (a ValueError), OS errors (missing or unreadable
# file), FFmpeg errors PyAV did not map to either, and ValueErrors from a transform refusing
# the frames. Anything else is a bug and propagates.
CLIP_ERRORS = (ValueError, OSError, av.error.FFmpegError)


def keep_uint8(frames: torch.Tensor) -> torch.Tensor:
    """Identity transform: items keep their uint8 ``[T, H, W, 3]`` frames."""
    return frames


class ClipDataset(Dataset):
    """Clips sampled to T frames and transformed for a vision tower.

    Args:
        clips: Clips to serve, in order.
        classes: Class names indexed by label.
        sampling: Frame sampling; defaults to 16 uniformly spread frames.
        transform: Applied to uint8 ``[T, H, W, 3]`` frames; defaults to
            ``FrameTransform(224)`` (square resize, mean = std = 0.5, as SigLIP). Pass
            :func:`keep_uint8` for raw frames.
        skipped: Skips already found while indexing (e.g. files listed in a split but absent).
        probe: Read every clip's header now; unreadable clips move to ``skipped`` up front.
        meta: How the clips were indexed (source, split, subset seed), kept for the run record.
    """

    def __init__(
        self,
        clips: Sequence[ClipRef],
        classes: Sequence[str] = (),
        sampling: ClipSampling | None = None,
        transform: Transform | None = None,
        skipped: Sequence[dict] = (),
        probe: bool = False,
        meta: dict | None = None,
    ) -> None:
        self.clips = list(clips)
        self.classes = list(classes)
        self.sampling = sampling or ClipSampling()
        self.transform = transform or FrameTransform(224)
        self.skipped: list[dict] = [dict(s) for s in skipped]
        self.meta = dict(meta or {})
        self._lengths: dict[str, int] = {}
        if probe:
            self.probe()

    @classmethod
    def from_source(cls, source: ClipSource, **kwargs: Any) -> ClipDataset:
        """Build a dataset from an indexed source, carrying over its skips."""
        return cls(source.clips, source.classes, skipped=source.skipped, meta=source.meta, **kwargs)

    def __len__(self) -> int:
        return len(self.clips)

    def _skip(self, clip: ClipRef, reason: str) -> None:
        if not any(s["clip_id"] == clip.clip_id for s in self.skipped):
            self.skipped.append({"clip_id": clip.clip_id, "reason": reason})

    def probe(self) -> list[dict]:
        """Check every clip's header; move clips that cannot be opened to ``skipped``.

        Returns:
            The skips added by this call.
        """
        before = len(self.skipped)
        usable = []
        for clip in self.clips:
            try:
                length = clip_length(clip)
                if length < 1:
                    raise VideoError(f"{clip.path}: the clip has no frames")
            except CLIP_ERRORS as err:
                self._skip(clip, f"{type(err).__name__}: {err}")
                continue
            self._lengths[clip.clip_id] = length
            usable.append(clip)
        self.clips = usable
        return self.skipped[before:]

    def load(self, index: int) -> dict:
        """Load item ``index``; raises on a bad clip (``__getitem__`` records instead)."""
        clip = self.clips[index]
        frames, indices, policy = load_clip(clip, self.sampling, self._lengths.get(clip.clip_id))
        return {
            "frames": self.transform(frames),
            "label": clip.label,
            "clip_id": clip.clip_id,
            "policy": policy,
            "indices": torch.tensor(indices, dtype=torch.long),
        }

    def __getitem__(self, index: int) -> dict:
        clip = self.clips[index]
        try:
            return self.load(index)
        except CLIP_ERRORS as err:
            reason = f"{type(err).__name__}: {err}"
            self._skip(clip, reason)
            return {
                "frames": None,
                "label": clip.label,
                "clip_id": clip.clip_id,
                "policy": {},
                "error": reason,
            }


def collate_clips(items: Sequence[dict]) -> dict:
    """Batch dataset items, moving failed ones into ``batch["skipped"]``.

    Tensor fields are stacked, ``label`` becomes a LongTensor, other fields become lists.
    A batch whose clips all failed has ``frames`` of shape ``[0]`` and empty lists.
    """
    good = [item for item in items if item.get("frames") is not None]
    batch: dict[str, Any] = {
        "skipped": [
            {"clip_id": i["clip_id"], "reason": i["error"]}
            for i in items
            if i.get("frames") is None
        ],
        "label": torch.tensor([i["label"] for i in good], dtype=torch.long),
        "frames": torch.empty(0),
    }
    for key in good[0] if good else ("clip_id", "policy"):
        if key == "label":
            continue
        values = [item[key] for item in good]
        batch[key] = torch.stack(values) if values and torch.is_tensor(values[0]) else values
    return batch
