"""Keep-mask precision, recall and IoU against ground truth, on masks with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroflow.analysis.gate_quality import mask_quality, scene_truth
from neuroflow.data.synthetic import SceneConfig, make_scene


def _masks() -> tuple[np.ndarray, np.ndarray]:
    """Two clips of 3 frames and 4 patches; frame 0 would spoil every score if it counted."""
    keep = np.zeros((2, 3, 4), dtype=bool)
    truth = np.zeros((2, 3, 4), dtype=bool)
    keep[:, 0] = True  # dense first frame, nothing moved yet
    keep[0, 1], truth[0, 1] = [1, 1, 0, 0], [1, 0, 0, 0]  # P 1/2, R 1, IoU 1/2
    keep[0, 2], truth[0, 2] = [1, 0, 0, 0], [0, 0, 0, 0]  # P 0, R undefined, IoU 0
    keep[1, 1], truth[1, 1] = [0, 0, 1, 1], [0, 1, 1, 1]  # P 1, R 2/3, IoU 2/3
    keep[1, 2], truth[1, 2] = [1, 1, 1, 1], [0, 1, 0, 0]  # P 1/4, R 1, IoU 1/4
    return keep, truth


def test_mask_quality_exact_frame_clip_and_pooled_scores():
    keep, truth = _masks()
    table = mask_quality(torch.as_tensor(keep), torch.as_tensor(truth), dataset="toy")
    assert table.columns[:7].tolist() == [
        "scope", "dataset", "truth", "precision", "recall", "iou", "frames_or_clips",
    ]  # fmt: skip
    rows = table.set_index("scope")
    assert rows.loc["frame", ["precision", "recall", "iou"]].tolist() == pytest.approx(
        [1.75 / 4, (1 + 2 / 3 + 1) / 3, (1 / 2 + 0 + 2 / 3 + 1 / 4) / 4]
    )
    # Clip 0 pools kept 3 / true 1 / hit 1 / union 3; clip 1 kept 6 / true 4 / hit 3 / union 7.
    assert rows.loc["clip", ["precision", "recall", "iou"]].tolist() == pytest.approx(
        [(1 / 3 + 1 / 2) / 2, (1 + 3 / 4) / 2, (1 / 3 + 3 / 7) / 2]
    )
    assert rows.loc["pooled", ["precision", "recall", "iou"]].tolist() == pytest.approx(
        [4 / 9, 4 / 5, 4 / 10]
    )
    assert rows["frames_or_clips"].tolist() == [4, 2, 4]
    # One frame has no true motion: it has no recall and is counted.
    assert rows.loc["frame", "recall_units"] == 3 and rows.loc["frame", "no_truth"] == 1
    assert rows.loc["frame", "precision_units"] == 4
    assert (table["dataset"] == "toy").all() and (table["truth"] == "motion").all()


def test_frame_zero_counts_when_asked():
    keep, truth = _masks()
    rows = mask_quality(keep, truth, skip_first=False).set_index("scope")
    assert rows.loc["pooled", "precision"] == pytest.approx(4 / 17)  # 8 more kept, none true
    assert rows.loc["frame", "frames_or_clips"] == 6 and rows.loc["frame", "no_truth"] == 3


def test_oracle_and_keep_all_masks():
    rng = np.random.default_rng(0)
    truth = rng.random((3, 5, 16)) < 0.3
    oracle = mask_quality(truth, truth, skip_first=False)
    np.testing.assert_allclose(oracle[["precision", "recall", "iou"]].to_numpy(), 1.0)
    keep_all = mask_quality(np.ones_like(truth), truth, skip_first=False).set_index("scope")
    assert (keep_all["recall"] == 1.0).all()
    assert keep_all.loc["pooled", "precision"] == pytest.approx(truth.mean())
    assert keep_all.loc["pooled", "truth_density"] == pytest.approx(truth.mean())
    assert keep_all.loc["pooled", "keep_density"] == 1.0


def test_mask_quality_rejects_bad_masks():
    keep, truth = _masks()
    with pytest.raises(ValueError, match="same shape"):
        mask_quality(keep[:, :2], truth)
    with pytest.raises(ValueError, match="bool"):
        mask_quality(keep.astype(np.float32), truth)
    with pytest.raises(ValueError, match="no frame"):
        mask_quality(keep[:, :1], truth[:, :1])


def test_scene_truth_flattens_the_patch_mask():
    cfg = SceneConfig(num_frames=3, height=32, width=32, patch_size=8, object_size=8, speed=4.0)
    scene = make_scene(cfg, seed=0)
    truth = scene_truth(scene)
    assert truth.shape == (3, 16) and truth.dtype == torch.bool
    assert torch.equal(truth.view(3, 4, 4), scene.motion_mask)
    assert not truth[0].any() and truth[1:].any()
