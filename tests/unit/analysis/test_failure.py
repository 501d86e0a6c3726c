"""Optical-flow measures on synthetic clips of known motion; per-class and quartile gaps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from neuroflow.analysis.failure import (
    centroid_displacement,
    clip_motion,
    failure_classes,
    failure_quartiles,
    flow_magnitude,
    flow_magnitudes,
)

SIZE = 64


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """A smooth random grey texture (Farneback needs texture to see motion)."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, (128, 128)).astype(np.float32), (0, 0), 2)
    return cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=-1)


def panning(texture: np.ndarray, speed: int, frames: int = 8) -> np.ndarray:
    """The whole frame translating by ``speed`` px/frame."""
    offsets = [speed * t for t in range(frames)]
    return np.stack([_rgb(texture[20 : 20 + SIZE, x : x + SIZE]) for x in offsets])


def square(texture: np.ndarray, xs, side: int = 12) -> np.ndarray:
    """A textured square at column ``x`` of each frame, on a flat background."""
    clip = np.full((len(xs), SIZE, SIZE, 3), 40, dtype=np.uint8)
    for frame, x in zip(clip, xs, strict=True):
        frame[26 : 26 + side, x : x + side] = _rgb(texture[:side, :side])
    return clip


def test_flow_of_a_frame_translating_2px_per_frame_is_about_2(texture):
    assert flow_magnitude(panning(texture, 2)) == pytest.approx(2.0, rel=0.25)
    assert flow_magnitude(panning(texture, 4)) == pytest.approx(4.0, rel=0.25)


def test_flow_inside_a_moving_square_is_its_speed(texture):
    mags = flow_magnitudes(square(texture, range(4, 36, 2)))
    assert mags.shape == (15, SIZE, SIZE)
    assert np.median(mags[mags > 1.0]) == pytest.approx(2.0, rel=0.25)
    # The clip mean is over all pixels, so a small object moves it by its area share only.
    assert mags.mean() < 1.0


def test_a_static_clip_has_no_flow_and_no_displacement(texture):
    static = panning(texture, 0)
    assert flow_magnitude(static) < 0.05
    assert np.isnan(centroid_displacement(static))


def test_traversal_displaces_the_centroid_more_than_oscillation(texture):
    across = square(texture, range(4, 52, 3))  # 16 frames, 45 px to the right
    in_place = square(texture, [26, 28] * 8)  # the same square jittering by 2 px
    far, near = centroid_displacement(across), centroid_displacement(in_place)
    assert far == pytest.approx(45 / np.hypot(SIZE, SIZE), rel=0.25)
    assert near < 0.05 < far
    table = clip_motion(np.stack([across, in_place]))
    assert table["clip"].tolist() == [0, 1]
    assert table["centroid_displacement"].tolist() == pytest.approx([far, near])
    assert table["flow_px_per_frame"].iloc[0] == pytest.approx(flow_magnitude(across))


def test_motion_rejects_non_clips():
    with pytest.raises(ValueError, match="uint8"):
        flow_magnitude(np.zeros((4, 8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="at least 2 frames"):
        flow_magnitude(np.zeros((1, 8, 8, 3), dtype=np.uint8))


def test_failure_classes_exact_gaps_sorted_and_small_classes_left_out():
    labels = np.array([0] * 5 + [1] * 6 + [2] * 3)
    dense = np.array([1, 1, 1, 1, 0] + [1, 1, 1, 0, 0, 0] + [1, 1, 1], dtype=bool)
    sparse = np.array([1, 0, 0, 0, 0] + [1, 1, 1, 1, 0, 0] + [0, 0, 0], dtype=bool)
    table = failure_classes(labels, ["Swing", "PullUps", "YoYo"], dense, sparse, resamples=500)
    assert table["class"].tolist() == ["Swing", "PullUps"]  # YoYo has 3 < 5 clips
    assert table["clips"].tolist() == [5, 6]
    assert table["dense_top1"].tolist() == pytest.approx([0.8, 0.5])
    assert table["sparse_top1"].tolist() == pytest.approx([0.2, 4 / 6])
    assert table["gap_pp"].tolist() == pytest.approx([60.0, -100 / 6])
    assert (table["gap_ci_low"] <= table["gap_pp"]).all()
    assert (table["gap_pp"] <= table["gap_ci_high"]).all()
    with pytest.raises(ValueError, match="no name"):
        failure_classes(labels, ["Swing"], dense, sparse)


def test_failure_quartiles_bins_gaps_and_drops_nan():
    values = np.array([0, 1, 2, 3, 4, 5, 6, 7, np.nan], dtype=float)
    dense = np.ones(9, dtype=bool)
    # Bins of two clips: sparse misses 0, 1, 1 and 2 of them.
    sparse = np.array([1, 1, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
    table = failure_quartiles({"centroid_displacement": values}, dense, sparse, resamples=500)
    assert table["quartile"].tolist() == [1, 2, 3, 4]
    assert table["clips"].tolist() == [2, 2, 2, 2]
    assert table["gap_pp"].tolist() == pytest.approx([0.0, 50.0, 50.0, 100.0])
    np.testing.assert_allclose(table["low"], [0.0, 1.75, 3.5, 5.25])
    np.testing.assert_allclose(table["high"], [1.75, 3.5, 5.25, 7.0])
    assert table.attrs["dropped"] == {"centroid_displacement": 1}
    with pytest.raises(ValueError, match="same clips"):
        failure_quartiles({"flow": values}, dense, sparse[:5])
