"""Where sparse inference fails: per-class gaps and motion quartiles (T3, Spatial Displacement).

The paper says motion speed (mean optical-flow magnitude) does not predict the Arch C gap
while the displacement of the moving region across the frame does. Its flow algorithm and
normalisation are unspecified; here flow is OpenCV's Farneback on grey frames, and the
displacement is that of the centroid of flow-active pixels, normalised by the frame diagonal.

Accuracies are shares in [0, 1]; gaps (dense minus sparse) are in percentage points (pp).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import pandas as pd

from neuroflow.eval.stats import Hits, paired_bootstrap

MEASURES = ("flow_px_per_frame", "centroid_displacement")


def _check_clip(frames: np.ndarray) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected uint8 [T, H, W, 3] frames, got {arr.dtype} {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"optical flow needs at least 2 frames, got {arr.shape[0]}")
    return arr


def flow_magnitudes(frames: np.ndarray) -> np.ndarray:
    """Per-pixel Farneback flow magnitude between consecutive frames.

    Args:
        frames: uint8 ``[T, H, W, 3]`` RGB frames.

    Returns:
        float32 ``[T - 1, H, W]``: ``|flow|`` in px/frame from frame ``t - 1`` to ``t``.
    """
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in _check_clip(frames)]
    mags = []
    for prev, cur in zip(grey[:-1], grey[1:], strict=True):
        # The OpenCV tutorial's settings: a 3-level pyramid at scale 0.5, a 15-px window.
        # No initial flow (None); OpenCV's stubs omit that documented option.
        flow = cv2.calcOpticalFlowFarneback(  # type: ignore[call-overload]
            prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0
        )
        mags.append(np.hypot(flow[..., 0], flow[..., 1]))
    return np.stack(mags).astype(np.float32)


def _displacement(mags: np.ndarray, active_px: float) -> float:
    """Largest distance of the active-region centroid from its first position / diagonal."""
    diagonal = float(np.hypot(*mags.shape[1:]))
    centroids = []
    for active in mags > active_px:
        ys, xs = np.nonzero(active)
        if ys.size:
            centroids.append((ys.mean(), xs.mean()))
    if not centroids:
        return float("nan")
    track = np.asarray(centroids)
    return float(np.linalg.norm(track - track[0], axis=1).max() / diagonal)


def flow_magnitude(frames: np.ndarray) -> float:
    """Mean optical-flow magnitude of a clip in px/frame (all pixels, frames 1..T-1)."""
    return float(flow_magnitudes(frames).mean())


def centroid_displacement(frames: np.ndarray, active_px: float = 1.0) -> float:
    """How far the moving region travels across the frame.

    Per frame pair, the flow-active pixels are those with ``|flow| > active_px``; their
    centroid (unweighted mean position) is tracked over the clip, skipping frames without
    active pixels. The displacement is the largest distance of the centroid from its first
    position, divided by the frame diagonal, so 1 is a corner-to-corner traversal. The
    paper's normalisation is unspecified ("normalised units"); the diagonal keeps the
    measure independent of frame size and aspect.

    Args:
        frames: uint8 ``[T, H, W, 3]`` RGB frames.
        active_px: Flow magnitude (px/frame) above which a pixel counts as moving.

    Returns:
        The displacement in [0, 1]; nan when no pixel is ever active (a static clip).
    """
    return _displacement(flow_magnitudes(frames), active_px)


def clip_motion(clips: np.ndarray, active_px: float = 1.0) -> pd.DataFrame:
    """Flow magnitude and centroid displacement of every clip (one flow pass per clip).

    Args:
        clips: uint8 ``[n, T, H, W, 3]``.
        active_px: See :func:`centroid_displacement`.

    Returns:
        One row per clip: ``clip``, ``flow_px_per_frame``, ``centroid_displacement``.
    """
    arr = np.asarray(clips)
    if arr.ndim != 5:
        raise ValueError(f"expected uint8 [n, T, H, W, 3] clips, got shape {arr.shape}")
    rows = []
    for i, frames in enumerate(arr):
        mags = flow_magnitudes(frames)
        rows.append(
            {
                "clip": i,
                "flow_px_per_frame": float(mags.mean()),
                "centroid_displacement": _displacement(mags, active_px),
            }
        )
    return pd.DataFrame(rows, columns=["clip", *MEASURES])


def _paired_hits(dense_hits: Hits, sparse_hits: Hits) -> pd.DataFrame:
    """The two hit lists as a ``dense`` / ``sparse`` bool frame, one row per clip."""
    dense, sparse = np.asarray(dense_hits), np.asarray(sparse_hits)
    for name, arr in (("dense_hits", dense), ("sparse_hits", sparse)):
        if arr.ndim != 1 or (arr.dtype != bool and not np.isin(arr, (0, 1)).all()):
            raise ValueError(f"{name} must be 1-D bool (or 0/1) hits, got {arr.dtype} {arr.shape}")
    if dense.size != sparse.size or dense.size == 0:
        raise ValueError(
            f"dense_hits ({dense.size}) and sparse_hits ({sparse.size}) must cover the same clips"
        )
    return pd.DataFrame({"dense": dense.astype(bool), "sparse": sparse.astype(bool)})


def _gap_interval(group: pd.DataFrame, resamples: int, seed: int) -> tuple[float, float]:
    low, high = paired_bootstrap(group["dense"], group["sparse"], resamples, seed)
    return 100.0 * low, 100.0 * high


def _gap_cells(group: pd.DataFrame, resamples: int, seed: int) -> dict[str, float]:
    """Clips, dense and sparse top-1, and the gap (pp) with its paired interval, of one group."""
    low, high = _gap_interval(group, resamples, seed)
    dense, sparse = float(group["dense"].mean()), float(group["sparse"].mean())
    return {
        "clips": len(group),
        "dense_top1": dense,
        "sparse_top1": sparse,
        "gap_pp": 100.0 * (dense - sparse),
        "gap_ci_low": low,
        "gap_ci_high": high,
    }


def failure_classes(
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str] | None,
    dense_hits: Hits,
    sparse_hits: Hits,
    min_clips: int = 5,
    resamples: int = 10000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-class accuracy of dense and sparse on the same clips, largest gap first.

    Args:
        labels: ``[n]`` class of each clip: an index into ``class_names`` (or the class
            itself when ``class_names`` is None).
        class_names: Names of the classes, or None.
        dense_hits: ``[n]`` per-clip hits of the dense model.
        sparse_hits: ``[n]`` per-clip hits of the sparse model.
        min_clips: Classes with fewer clips are left out (one clip of 5 is 20 pp).
        resamples: Bootstrap resamples of each class's paired gap interval.
        seed: Bootstrap seed.

    Returns:
        One row per class with at least ``min_clips`` clips: ``class``, ``clips``,
        ``dense_top1``, ``sparse_top1``, ``gap_pp``, ``gap_ci_low``, ``gap_ci_high``
        (paired bootstrap 95%), sorted by ``gap_pp`` descending (ties by class).
    """
    table = _paired_hits(dense_hits, sparse_hits)
    labels = np.asarray(labels)
    if labels.shape != (len(table),):
        raise ValueError(f"labels must be [n={len(table)}], got shape {labels.shape}")
    if class_names is not None:
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise ValueError("with class_names, labels must be non-negative class indices")
        if labels.max() >= len(class_names):
            raise ValueError(f"label {labels.max()} has no name ({len(class_names)} names)")
        labels = np.asarray(class_names, dtype=object)[labels]
    table["class"] = labels
    rows = []
    for name, group in table.groupby("class", sort=True):
        if len(group) < min_clips:
            continue
        rows.append({"class": name, **_gap_cells(group, resamples, seed)})
    columns = ["class", "clips", "dense_top1", "sparse_top1", "gap_pp", "gap_ci_low", "gap_ci_high"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["gap_pp", "class"], ascending=[False, True], ignore_index=True)


def failure_quartiles(
    values: Mapping[str, Sequence[float] | np.ndarray],
    dense_hits: Hits,
    sparse_hits: Hits,
    resamples: int = 10000,
    seed: int = 0,
) -> pd.DataFrame:
    """The gap per quartile of each per-clip motion measure.

    Quartile bins come from ``pandas.qcut`` (right-closed, the lowest value included in
    bin 1). Clips whose value is nan (e.g. a static clip's displacement) are left out of
    that measure and counted in ``attrs["dropped"]``; with many ties a measure can get
    fewer than 4 bins (duplicate edges are dropped).

    Args:
        values: measure name -> ``[n]`` per-clip values (e.g. the columns of
            :func:`clip_motion`).
        dense_hits: ``[n]`` per-clip hits of the dense model.
        sparse_hits: ``[n]`` per-clip hits of the sparse model.
        resamples: Bootstrap resamples of each bin's paired gap interval.
        seed: Bootstrap seed.

    Returns:
        One row per measure and bin: ``measure``, ``quartile`` (1..4), ``low``, ``high``
        (bin edges), ``clips``, ``dense_top1``, ``sparse_top1``, ``gap_pp``,
        ``gap_ci_low``, ``gap_ci_high`` (paired bootstrap 95%).
    """
    hits = _paired_hits(dense_hits, sparse_hits)
    rows, dropped = [], {}
    for measure, raw in values.items():
        v = np.asarray(raw, dtype=np.float64)
        if v.shape != (len(hits),):
            raise ValueError(f"{measure}: {v.shape} values for {len(hits)} clips")
        keep = ~np.isnan(v)
        dropped[measure] = int((~keep).sum())
        if keep.sum() < 4:
            raise ValueError(f"{measure}: quartiles need at least 4 clips with a value")
        bins, edges = pd.qcut(v[keep], 4, labels=False, retbins=True, duplicates="drop")
        sub = hits[keep].assign(bin=bins)
        for b, group in sub.groupby("bin", sort=True):
            bounds = {"low": float(edges[int(b)]), "high": float(edges[int(b) + 1])}
            cells = _gap_cells(group, resamples, seed)
            rows.append({"measure": measure, "quartile": int(b) + 1, **bounds, **cells})
    table = pd.DataFrame(rows)
    table.attrs["dropped"] = dropped
    return table
