"""How well a gate's keep mask matches ground-truth motion: precision, recall and IoU.

A retinal gate should recompute the patches that moved. Against a ground-truth patch mask
(moving glyphs or synthetic scenes) the keep mask is scored three ways:

* ``frame``: the metric per frame, then the mean over frames (macro);
* ``clip``: a clip's counts pooled over its frames, then the mean over clips (macro);
* ``pooled``: all counts pooled (micro).

A frame (or clip) whose denominator is 0 has no value for that metric (precision with
nothing kept, recall with no true motion, IoU with neither) and is left out of that
metric's mean; the counts of units with a value are reported alongside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from torch import Tensor

if TYPE_CHECKING:
    from neuroflow.data.synthetic import Scene

METRICS = ("precision", "recall", "iou")


def _as_bool(mask: Tensor | np.ndarray, name: str) -> np.ndarray:
    arr = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype != bool:
        raise ValueError(f"{name} must be a bool mask, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(f"{name} must be [n, T, N], got shape {arr.shape}")
    return arr


def _counts(keep: np.ndarray, truth: np.ndarray, axis: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Kept, true, hit (kept and true) and union counts summed over ``axis``."""
    return {
        "kept": keep.sum(axis=axis),
        "true": truth.sum(axis=axis),
        "hit": (keep & truth).sum(axis=axis),
        "union": (keep | truth).sum(axis=axis),
    }


def _ratios(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each metric per unit; nan where its denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "precision": np.where(c["kept"] > 0, c["hit"] / c["kept"], np.nan),
            "recall": np.where(c["true"] > 0, c["hit"] / c["true"], np.nan),
            "iou": np.where(c["union"] > 0, c["hit"] / c["union"], np.nan),
        }


def _row(scope: str, c: dict[str, np.ndarray], units: int) -> dict:
    ratios = _ratios(c)
    row: dict = {"scope": scope}
    for name in METRICS:
        defined = ~np.isnan(ratios[name])
        row[name] = float(ratios[name][defined].mean()) if defined.any() else float("nan")
        row[f"{name}_units"] = int(defined.sum())
    row["frames_or_clips"] = units
    row["no_truth"] = int((np.atleast_1d(c["true"]) == 0).sum())
    return row


def mask_quality(
    keep: Tensor | np.ndarray,
    truth: Tensor | np.ndarray,
    skip_first: bool = True,
    dataset: str = "unnamed",
    truth_name: str = "motion",
) -> pd.DataFrame:
    """Precision, recall and IoU of a keep mask against a ground-truth patch mask.

    precision = |keep ∩ truth| / |keep|, recall = |keep ∩ truth| / |truth|,
    iou = |keep ∩ truth| / |keep ∪ truth|.

    Args:
        keep: ``[n, T, N]`` bool, patches the gate recomputed.
        truth: ``[n, T, N]`` bool, patches that truly moved (or changed).
        skip_first: Leave out frame 0, where the gate is dense by design and there is no
            motion yet (it would only score the first-frame rule).
        dataset: Name of the clip set (a column).
        truth_name: Kind of ground truth (``"motion"`` or ``"changed"``; a column).

    Returns:
        Rows ``frame``, ``clip`` and ``pooled`` with ``scope``, ``dataset``, ``truth``,
        ``precision``, ``recall``, ``iou``, ``frames_or_clips`` (frames for ``frame`` and
        ``pooled``, clips for ``clip``), then ``<metric>_units`` (units where the metric is
        defined), ``no_truth`` (units without any true patch), ``keep_density`` and
        ``truth_density`` (shares of all scored patches).

    Raises:
        ValueError: Masks that are not bool ``[n, T, N]`` of one shape, or no frame left.
    """
    k, t = _as_bool(keep, "keep"), _as_bool(truth, "truth")
    if k.shape != t.shape:
        raise ValueError(f"keep {k.shape} and truth {t.shape} must have the same shape")
    if skip_first:
        k, t = k[:, 1:], t[:, 1:]
    n, frames, _ = k.shape
    if n * frames == 0:
        raise ValueError(f"no frame to score (shape {k.shape}, skip_first={skip_first})")
    per_frame = _counts(k, t, axis=(2,))
    per_clip = _counts(k, t, axis=(1, 2))
    pooled = {name: np.asarray(v) for name, v in _counts(k, t, axis=(0, 1, 2)).items()}
    rows = [
        _row("frame", {name: v.reshape(-1) for name, v in per_frame.items()}, n * frames),
        _row("clip", per_clip, n),
        _row("pooled", pooled, n * frames),
    ]
    table = pd.DataFrame(rows)
    table.insert(1, "dataset", dataset)
    table.insert(2, "truth", truth_name)
    table["keep_density"] = float(k.mean())
    table["truth_density"] = float(t.mean())
    order = ["scope", "dataset", "truth", *METRICS, "frames_or_clips"]
    return table[order + [c for c in table.columns if c not in order]]


def scene_truth(scene: Scene) -> Tensor:
    """``[T, N]`` bool ground-truth motion of a synthetic scene (its patch mask, row-major).

    The scene's ``patch_size`` and grid must match the model's token grid for the result
    to line up with a keep mask; stack scenes for :func:`mask_quality`'s ``[n, T, N]``.
    """
    mask = scene.motion_mask
    return mask.reshape(mask.shape[0], -1).bool()
