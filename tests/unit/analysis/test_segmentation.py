"""Clusters of active patches, their zero-shot labels, and segmentation of a stream."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuroflow.analysis.segmentation import (
    check_pools_patches,
    clusters,
    label_clusters,
    pool_cluster,
    segment_stream,
    track_ids,
)
from neuroflow.archs import make_arch
from neuroflow.eval.zeroshot import ZeroShotClassifier, project_image
from neuroflow.models.loading import load_vision_language_model, wrap_tower

pytestmark = pytest.mark.usefixtures("one_thread")


def grid_of(shape: tuple[int, int], cells: list[tuple[int, int]]) -> np.ndarray:
    grid = np.zeros(shape, dtype=bool)
    for r, c in cells:
        grid[r, c] = True
    return grid


@pytest.fixture(scope="module")
def tiny():
    """The tiny random SigLIP (32 px, patch 4: an 8x8 grid), its tower and projection."""
    model, _ = load_vision_language_model("tiny-siglip")
    project = partial(project_image, model)
    return SimpleNamespace(model=model, tower=wrap_tower(model), project=project)


# --- clusters ------------------------------------------------------------------------------


def test_two_separate_blobs_give_two_clusters_with_exact_geometry():
    block = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    ell = [(3, 6), (4, 6), (5, 6), (5, 7)]
    found = clusters(grid_of((6, 8), block + ell))
    assert [c.id for c in found] == [0, 1]
    a, b = found
    assert a.size == 6 and a.patches == (0, 1, 2, 8, 9, 10)
    assert a.centroid == pytest.approx((0.5, 1.0))
    assert a.centroid_norm == pytest.approx((1.0 / 6, 1.5 / 8))  # cell centres, 0..1
    assert a.bbox == (0, 0, 2, 3)
    assert b.size == 4 and b.patches == (30, 38, 46, 47)
    assert b.centroid == pytest.approx((4.25, 6.25))
    assert b.centroid_norm == pytest.approx((4.75 / 6, 6.75 / 8))
    assert b.bbox == (3, 6, 6, 8)


def test_diagonal_neighbours_join_under_8_but_not_4_connectivity():
    grid = grid_of((4, 4), [(0, 0), (1, 1), (2, 2)])
    assert [c.size for c in clusters(grid, connectivity=8)] == [3]
    assert clusters(grid, connectivity=4) == []  # three lone patches, each below min_patches
    assert [c.patches for c in clusters(grid, min_patches=1, connectivity=4)] == [(0,), (5,), (10,)]


def test_min_patches_drops_singletons_and_ids_stay_consecutive():
    grid = grid_of((5, 5), [(0, 4), (2, 0), (2, 1), (4, 4), (4, 3), (3, 4)])
    found = clusters(torch.as_tensor(grid), min_patches=2)  # a tensor mask works as well
    assert [(c.id, c.size) for c in found] == [(0, 2), (1, 3)]
    assert [c.size for c in clusters(grid, min_patches=3)] == [3]


@pytest.mark.parametrize(
    ("grid", "kwargs", "message"),
    [
        (np.zeros((2, 2), dtype=int), {}, "bool mask"),
        (np.zeros(4, dtype=bool), {}, "bool mask"),
        (np.zeros((2, 2), dtype=bool), {"connectivity": 6}, "connectivity"),
        (np.zeros((2, 2), dtype=bool), {"min_patches": 0}, "min_patches"),
    ],
)
def test_bad_masks_and_settings_are_named(grid, kwargs, message):
    with pytest.raises(ValueError, match=message):
        clusters(grid, **kwargs)


# --- labels --------------------------------------------------------------------------------


def test_pooling_a_cluster_is_the_heads_pooling_of_its_tokens_only(tiny):
    tokens = torch.randn(64, tiny.tower.hf.config.hidden_size)
    found = clusters(grid_of((8, 8), [(1, 1), (1, 2), (2, 1), (6, 6), (6, 7)]))
    for cluster in found:
        hf_head = tiny.tower.pool(tokens[list(cluster.patches)][None])[0]  # unfolded HF head
        assert torch.allclose(pool_cluster(tiny.tower, tokens, cluster), hf_head, atol=1e-5)
    first, second = (pool_cluster(tiny.tower, tokens, c) for c in found)
    assert not torch.allclose(first, second, atol=1e-3)


def test_a_class_matching_the_cluster_exactly_is_its_label(tiny):
    tokens = torch.randn(64, tiny.tower.hf.config.hidden_size)
    found = clusters(grid_of((8, 8), [(0, 0), (0, 1), (5, 5), (6, 5), (6, 6)]))
    pooled = torch.stack([pool_cluster(tiny.tower, tokens, c) for c in found])
    joint = F.normalize(tiny.project(pooled), dim=-1)
    decoy = F.normalize(torch.randn(1, joint.shape[1]), dim=-1)
    weights = torch.cat([decoy, joint[1:], joint[:1]])  # class "b" is cluster 1, "c" cluster 0
    classifier = ZeroShotClassifier(weights, ("a", "b", "c"), scale=10.0, bias=-2.0)
    labels = label_clusters(tiny.tower, tokens, found, tiny.project, classifier, top_k=2)
    assert [lab.label for lab in labels] == ["c", "b"]
    assert [lab.score for lab in labels] == pytest.approx([10.0 - 2.0] * 2, abs=1e-4)
    for lab in labels:
        assert len(lab.top) == 2 and lab.top[0] == (lab.label, lab.probability)
        assert lab.top[0][1] >= lab.top[1][1]
        expected = classifier.logits(lab.embedding[None]).softmax(-1).max().item()
        assert lab.probability == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="class names"):
        label_clusters(tiny.tower, tokens, found, tiny.project, classifier, ["a", "b"])


def test_class_token_towers_cannot_label_clusters():
    with pytest.raises(ValueError, match="class token"):
        check_pools_patches(SimpleNamespace(num_prefix_tokens=1))


# --- a stream ------------------------------------------------------------------------------


def moving_square(frames: int = 4) -> tuple[torch.Tensor, list[set[int]]]:
    """A fixed noise background; from frame 1 on a 2x2-patch white square steps one patch
    right per frame. Also the square's patches on every frame.

    With the slow EMA (alpha = 0.01) the gate's background stays the empty first frame, so
    exactly the patches the square covers now are surprising.
    """
    gen = torch.Generator().manual_seed(0)
    background = torch.rand(3, 32, 32, generator=gen) * 2 - 1
    clip, where = [background], [set()]
    for t in range(1, frames):
        frame = background.clone()
        frame[:, 12:20, 4 * t : 4 * t + 8] = 1.0  # rows 3-4, cols t..t+1 of the 8x8 grid
        clip.append(frame)
        where.append({r * 8 + c for r in (3, 4) for c in (t, t + 1)})
    return torch.stack(clip), where


def digits() -> ZeroShotClassifier:
    weights = F.normalize(torch.randn(3, 32, generator=torch.Generator().manual_seed(1)), dim=-1)
    return ZeroShotClassifier(weights, ("x", "y", "z"))


def test_the_clusters_of_a_stream_follow_the_moving_square(tiny):
    clip, where = moving_square()
    arch = make_arch("C", tiny.tower, threshold=0.05, floor_tokens=0)
    records = segment_stream(arch, None, clip, tiny.project, digits())
    assert [r.frame for r in records] == [0, 1, 2, 3]
    assert [r.first_frame for r in records] == [True, False, False, False]
    assert [c.cluster.size for c in records[0].labels] == [64]  # the dense first frame
    for t in (1, 2, 3):
        (only,) = records[t].labels
        assert set(only.cluster.patches) == where[t]
        assert only.cluster.centroid == pytest.approx((3.5, t + 0.5))
        assert records[t].keep_fraction == pytest.approx(4 / 64)
    assert track_ids(records[1:]) == [[0], [0], [0]]  # one object, one track


def test_with_every_patch_kept_the_one_cluster_is_the_dense_frame(tiny):
    clip, _ = moving_square(2)
    arch = make_arch("C", tiny.tower, threshold=0.0, mode="budget", keep_fraction=1.0)
    frames = (frame for frame in clip)  # a lazy iterable of [3, H, W] frames
    records = segment_stream(arch, tiny.tower, frames, tiny.project, digits())
    with torch.no_grad():
        dense = F.normalize(tiny.project(tiny.tower(clip)), dim=-1)
    for t, record in enumerate(records):
        (only,) = record.labels
        assert only.cluster.size == 64
        assert torch.allclose(only.embedding, dense[t], atol=1e-5)


def test_a_method_without_cache_is_refused(tiny):
    clip, _ = moving_square(2)
    with pytest.raises(ValueError, match="cortical-cache"):
        segment_stream(make_arch("B", tiny.tower), None, clip, tiny.project, digits())


def test_tracks_link_near_centroids_and_start_anew_after_a_jump():
    def record(cells):
        found = clusters(grid_of((8, 8), cells))
        labs = [SimpleNamespace(cluster=c) for c in found]
        return SimpleNamespace(labels=labs)

    a, b = [(0, 0), (0, 1)], [(7, 6), (7, 7)]
    moved_a = [(1, 0), (1, 1)]
    jumped = [(4, 3), (4, 4)]
    ids = track_ids([record(a + b), record(moved_a + b), record(jumped), record([])])
    assert ids == [[0, 1], [0, 1], [2], []]
