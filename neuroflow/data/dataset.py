"""A torch ``Dataset`` of sampled, transformed clips that never dies on one bad clip.

Items are dicts::

    {"frames": float [T, 3, S, S], "label": int, "clip_id": str,
     "policy": {recovery: details}, "indices": LongTensor [T]}

A clip that cannot be used (missing, empty, corrupt, truncated header, no decodable frame, a
transform refusing it: any ``Exception`` while loading it) is never dropped silently: a
:func:`~neuroflow.data.records.skip_record` (``clip_id``, ``path``, ``error`` type,
``message``, ``reason``) is appended to ``dataset.skipped`` and its item comes back with
``frames=None``, that record under ``"skip"`` and its reason under ``"error"``;
:func:`collate_clips` moves it into the batch's ``"skipped"`` list. With DataLoader workers,
``dataset.skipped`` of the main process only holds the skips found before iteration
(indexing, :meth:`ClipDataset.probe`); the batches carry the rest, so consumers record
``batch["skipped"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from neuroflow.data.clips import ClipRef, ClipSampling, ClipSource, clip_length, load_clip
from neuroflow.data.errors import EmptyVideoError
from neuroflow.data.records import skip_record
from neuroflow.data.transforms import FrameTransform

Transform = Callable[[torch.Tensor], torch.Tensor]
# What one bad clip can raise is open-ended: PyAV surfaces damaged files as FFmpeg errors, but
# also as AttributeError/TypeError from half-parsed headers, and transforms raise their own.
# A run over thousands of files must outlive each of them, so every Exception raised for one
# clip becomes a recorded skip; KeyboardInterrupt and SystemExit still stop the run.
CLIP_ERRORS: tuple[type[BaseException], ...] = (Exception,)


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

    def _skip(self, clip: ClipRef, err: BaseException) -> dict:
        record = skip_record(clip.clip_id, clip.path, err)
        if not any(s["clip_id"] == clip.clip_id for s in self.skipped):
            self.skipped.append(record)
        return record

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
                    raise EmptyVideoError(f"{clip.path}: the clip has no frames")
            except CLIP_ERRORS as err:
                self._skip(clip, err)
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
            record = self._skip(clip, err)
            return {
                "frames": None,
                "label": clip.label,
                "clip_id": clip.clip_id,
                "policy": {},
                "error": record["reason"],
                "skip": record,
            }


def _skip_of(item: dict) -> dict:
    """The skip record of a failed item (items from other datasets may carry only ``error``)."""
    if "skip" in item:
        return dict(item["skip"])
    error, sep, message = str(item.get("error", "")).partition(": ")
    if not sep:  # a bare message, no "<Type>: " prefix
        error, message = "Error", error
    return skip_record(item.get("clip_id", "?"), None, error=error, message=message)


def collate_clips(items: Sequence[dict]) -> dict:
    """Batch dataset items, moving failed ones into ``batch["skipped"]``.

    Tensor fields are stacked, ``label`` becomes a LongTensor, other fields become lists.
    A batch whose clips all failed has ``frames`` of shape ``[0]`` and empty lists.
    """
    good = [item for item in items if item.get("frames") is not None]
    batch: dict[str, Any] = {
        "skipped": [_skip_of(i) for i in items if i.get("frames") is None],
        "label": torch.tensor([i["label"] for i in good], dtype=torch.long),
        "frames": torch.empty(0),
    }
    for key in good[0] if good else ("clip_id", "policy"):
        if key == "label":
            continue
        values = [item[key] for item in good]
        batch[key] = torch.stack(values) if values and torch.is_tensor(values[0]) else values
    return batch
