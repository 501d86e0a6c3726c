"""Keep masks as pictures: grid reshape, per-pixel coverage, overlays and their inverse."""

import numpy as np
import pytest
import torch

from neuroflow.viz import (
    marked_patches,
    mask_grid,
    mask_to_image,
    overlay_frames,
    overlay_mask,
    patch_index,
    upsample_mask,
)

# (grid, frame size): square, non-square, frame sizes that do not divide, frame == grid
CASES = [((2, 2), (8, 8)), ((3, 5), (37, 61)), ((8, 8), (32, 32)), ((4, 3), (4, 3))]
CASES += [((14, 14), (225, 301)), ((5, 2), (17, 9))]


def _random(grid, size, seed):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    mask = rng.random(grid[0] * grid[1]) < 0.5
    return frame, mask


def test_mask_grid_reshapes_row_major_and_keeps_leading_dims():
    flat = torch.tensor([[1, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 1]], dtype=torch.bool)
    cells = mask_grid(flat, (2, 3))
    assert cells.shape == (2, 2, 3) and cells.dtype == torch.bool
    assert cells[0].tolist() == [[True, False, False], [True, True, False]]
    assert cells[1, 1, 2] and not cells[1, :, :2].any()


def test_mask_grid_accepts_numpy_and_zero_one_numbers():
    cells = mask_grid(np.array([0.0, 1.0, 1.0, 0.0]), (2, 2))
    assert cells.tolist() == [[False, True], [True, False]]
    assert mask_grid(np.arange(4)[::-1] > 1, (2, 2)).tolist() == [[True, True], [False, False]]


@pytest.mark.parametrize(
    ("mask", "grid", "match"),
    [
        (torch.ones(6, dtype=torch.bool), (2, 2), "last dimension must be 4"),
        (torch.ones(2, 5, dtype=torch.bool), (3, 2), "last dimension must be 6"),
        (torch.tensor([0, 1, 2, 1]), (2, 2), "only 0/1"),
        (torch.tensor([0.5, 1.0, 0.0, 1.0]), (2, 2), "only 0/1"),
        (torch.tensor(True), (1, 1), "does not fit"),
        (torch.ones(4, dtype=torch.bool), (0, 4), "positive integers"),
    ],
)
def test_mask_grid_rejects_bad_masks(mask, grid, match):
    with pytest.raises(ValueError, match=match):
        mask_grid(mask, grid)


def test_mask_to_image_draws_one_square_per_patch():
    mask = torch.tensor([True, False, False, False, False, True])
    image = mask_to_image(mask, (2, 3), cell=4, on=(1, 2, 3), off=(9, 9, 9))
    assert image.shape == (8, 12, 3) and image.dtype == np.uint8
    assert (image[:4, :4] == (1, 2, 3)).all() and (image[4:, 8:] == (1, 2, 3)).all()
    assert (image[:4, 4:] == 9).all() and (image[4:, :8] == 9).all()


def test_mask_to_image_wants_one_frame():
    with pytest.raises(ValueError, match=r"\[N\] or \[1, N\]"):
        mask_to_image(torch.ones(2, 4, dtype=torch.bool), (2, 2))
    assert mask_to_image(torch.ones(1, 4, dtype=torch.bool), (2, 2), cell=1).shape == (2, 2, 3)


@pytest.mark.parametrize(("grid", "size"), CASES)
def test_every_pixel_lies_in_one_patch_and_every_patch_has_pixels(grid, size):
    row_of_y, col_of_x = patch_index(size, grid)
    assert (np.diff(row_of_y) >= 0).all() and (np.diff(col_of_x) >= 0).all()
    ids = row_of_y[:, None] * grid[1] + col_of_x[None, :]
    counts = np.bincount(ids.ravel(), minlength=grid[0] * grid[1])
    assert counts.size == grid[0] * grid[1] and counts.min() >= 1
    assert counts.sum() == size[0] * size[1]
    # each patch alone lights exactly its own pixels, and the patches tile the frame
    total = np.zeros(size, dtype=int)
    for n in range(grid[0] * grid[1]):
        one = upsample_mask(torch.arange(grid[0] * grid[1]) == n, grid, size)
        assert one.sum() == counts[n]
        total += one
    assert (total == 1).all()


def test_upsample_mask_uses_floor_boundaries():
    up = upsample_mask(torch.tensor([True, False, False]), (1, 3), (2, 7))
    # floor(x * 3 / 7) for x = 0..6 is 0 0 0 1 1 2 2
    assert up.tolist() == [[True, True, True, False, False, False, False]] * 2


def test_upsample_mask_rejects_frames_smaller_than_the_grid():
    with pytest.raises(ValueError, match="smaller than grid"):
        upsample_mask(torch.ones(6, dtype=torch.bool), (2, 3), (2, 2))


@pytest.mark.parametrize(("grid", "size"), CASES)
@pytest.mark.parametrize("outline", [True, False])
def test_overlay_round_trip_is_exact(grid, size, outline):
    for seed in range(3):
        frame, mask = _random(grid, size, seed)
        drawn = overlay_mask(frame, mask, grid, outline=outline)
        assert drawn.shape == frame.shape and drawn.dtype == np.uint8
        assert marked_patches(drawn, frame, grid).tolist() == mask.tolist()
        active = upsample_mask(mask, grid, size)
        assert (drawn[~active] == frame[~active]).all()  # untouched pixels exactly equal
        assert (drawn[active] != frame[active]).any(axis=-1).all()  # every active pixel changed


@pytest.mark.parametrize("alpha", [1.0, 0.45, 0.001])
def test_a_frame_already_of_the_tint_colour_is_still_marked(alpha):
    frame = np.full((10, 10, 3), (255, 64, 0), dtype=np.uint8)
    mask = torch.tensor([True, False, False, True])
    drawn = overlay_mask(frame, mask, (2, 2), alpha=alpha, outline=True)
    assert marked_patches(drawn, frame, (2, 2)).tolist() == mask.tolist()
    assert np.abs(drawn.astype(int) - frame).max() == 1  # a one-level change, no more


def test_overlay_tints_towards_the_colour_and_outlines_active_cells():
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    mask = torch.tensor([True, True, False, False])  # top half
    plain = overlay_mask(frame, mask, (2, 2), color=(200, 100, 0), alpha=0.5, outline=False)
    assert (plain[:4] == (100, 50, 0)).all() and (plain[4:] == 0).all()
    lined = overlay_mask(frame, mask, (2, 2), color=(200, 100, 0), alpha=0.5)
    line = (lined == (200, 100, 0)).all(axis=-1)
    # a single 1-px line: top and bottom rows, left, shared middle and right columns
    assert line[0, :].all() and line[3, :].all() and line[:4, [0, 4, 7]].all()
    assert not line[1:3, 3].any() and not line[1:3, [1, 2, 5, 6]].any() and not line[4:].any()


def test_overlay_accepts_torch_and_rejects_bad_frames():
    frame, mask = _random((2, 2), (6, 6), 0)
    np.testing.assert_array_equal(
        overlay_mask(torch.from_numpy(frame), torch.from_numpy(mask), (2, 2)),
        overlay_mask(frame, mask, (2, 2)),
    )
    with pytest.raises(ValueError, match="uint8"):
        overlay_mask(frame.astype(np.float32), mask, (2, 2))
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        overlay_mask(frame[..., :2], mask, (2, 2))
    with pytest.raises(ValueError, match="alpha"):
        overlay_mask(frame, mask, (2, 2), alpha=0.0)
    with pytest.raises(ValueError, match="color"):
        overlay_mask(frame, mask, (2, 2), color=(300, 0, 0))


def test_overlay_frames_draws_each_frame_with_its_own_mask():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (4, 37, 61, 3), dtype=np.uint8)
    masks = torch.from_numpy(rng.random((4, 15)) < 0.4)
    drawn = overlay_frames(torch.from_numpy(frames), masks, (3, 5), alpha=0.3)
    assert drawn.shape == frames.shape and drawn.dtype == np.uint8
    for t in range(4):
        assert torch.equal(marked_patches(drawn[t], frames[t], (3, 5)), masks[t])
    with pytest.raises(ValueError, match="T=4"):
        overlay_frames(frames, masks[:3], (3, 5))


def test_marked_patches_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        marked_patches(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8), (2, 2))


def test_overlay_frames_rejects_an_empty_clip():
    with pytest.raises(ValueError, match="T >= 1"):
        overlay_frames(np.zeros((0, 4, 4, 3), np.uint8), np.zeros((0, 4), bool), (2, 2))
