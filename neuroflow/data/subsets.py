"""Seeded stratified subsets of clips and clip lists saved to disk for exact reuse."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuroflow.data.clips import ClipRef
from neuroflow.data.errors import DatasetNotFoundError
from neuroflow.data.records import skip_record

CLIP_LIST_VERSION = 1


def _allocate(counts: dict[int, int], size: int) -> dict[int, int]:
    """Per-class quotas proportional to ``counts`` summing to ``size`` (largest remainder)."""
    total = sum(counts.values())
    exact = {label: size * n / total for label, n in counts.items()}
    quota = {label: int(v) for label, v in exact.items()}
    order = sorted(counts, key=lambda c: (-(exact[c] - quota[c]), c))  # ties: lower label first
    for label in order[: size - sum(quota.values())]:
        quota[label] += 1
    return quota


def stratified_subset(clips: Sequence[ClipRef], size: int, seed: int = 0) -> list[ClipRef]:
    """Draw ``size`` clips keeping each label's share of the pool.

    Args:
        clips: The pool (e.g. the 3,783 clips of UCF-101 test split 1).
        size: Number of clips to keep.
        seed: Seed; the same pool, size and seed give the same subset on every machine
            (numpy's PCG64 stream is stable across versions).

    Returns:
        The chosen clips in pool order.
    """
    if not 0 < size <= len(clips):
        raise ValueError(f"subset size must be in 1..{len(clips)}, got {size}")
    by_label: dict[int, list[int]] = defaultdict(list)
    for position, clip in enumerate(clips):
        by_label[clip.label].append(position)
    quota = _allocate({label: len(p) for label, p in by_label.items()}, size)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label in sorted(by_label):
        positions = by_label[label]
        picks = rng.permutation(len(positions))[: quota[label]]
        chosen.extend(positions[i] for i in picks)
    return [clips[i] for i in sorted(chosen)]


def save_clip_list(path: str | Path, clips: Sequence[ClipRef], meta: dict | None = None) -> Path:
    """Write the clip ids (and how they were drawn) to a JSON file.

    Args:
        path: Output file (parents are created).
        clips: The clips, in order.
        meta: Anything needed to explain the list (source, split, seed, size).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "version": CLIP_LIST_VERSION,
        "meta": meta or {},
        "clips": [{"clip_id": c.clip_id, "label": c.label} for c in clips],
    }
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def load_clip_list(path: str | Path) -> tuple[list[str], dict]:
    """Read a file written by :func:`save_clip_list`: ``(clip_ids, meta)``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"clip list not found: {path}")
    payload = json.loads(path.read_text(encoding="utf-8"))
    if payload.get("version") != CLIP_LIST_VERSION or "clips" not in payload:
        raise ValueError(f"{path} is not a neuroflow clip list (version {CLIP_LIST_VERSION})")
    ids = [entry["clip_id"] for entry in payload["clips"]]
    first: dict[str, int] = {}
    for position, clip_id in enumerate(ids):
        if clip_id in first:  # served twice, it would count twice in every accuracy
            raise ValueError(
                f"{path}: clip {clip_id!r} is listed twice (entries {first[clip_id]} and "
                f"{position} of 'clips')"
            )
        first[clip_id] = position
    return ids, payload.get("meta", {})


def select_clips(
    clips: Sequence[ClipRef], clip_ids: Sequence[str]
) -> tuple[list[ClipRef], list[dict]]:
    """Pick clips by id in the order given.

    Returns:
        ``(found, skipped)``; an id absent from ``clips`` is recorded in ``skipped`` with the
        reason instead of being dropped silently.
    """
    by_id = {c.clip_id: c for c in clips}
    found = [by_id[i] for i in clip_ids if i in by_id]
    message = "listed in the saved clip list but absent from the index"
    skipped = [
        skip_record(i, None, error="FileNotFoundError", message=message)
        for i in clip_ids
        if i not in by_id
    ]
    return found, skipped
