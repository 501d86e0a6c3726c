"""Synthetic scenes: determinism and ground-truth masks that agree with the pixels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from neuroflow.data import SceneConfig, make_scene, moving_square
from neuroflow.data.synthetic import _skimage_texture

P = 8


def _changed_patches(frames: torch.Tensor, patch: int) -> np.ndarray:
    """Independent check: per patch, did any pixel change since the previous frame?"""
    f = frames.numpy().astype(np.int16)
    num, height, width = f.shape[:3]
    rows, cols = height // patch, width // patch
    out = np.zeros((num, rows, cols), bool)
    for t in range(1, num):
        for r in range(rows):
            for c in range(cols):
                a = f[t, r * patch : (r + 1) * patch, c * patch : (c + 1) * patch]
                b = f[t - 1, r * patch : (r + 1) * patch, c * patch : (c + 1) * patch]
                out[t, r, c] = bool(np.abs(a - b).sum())
    return out


def _box_patches(box: np.ndarray, rows: int, cols: int) -> np.ndarray:
    top, left, bottom, right = box
    mask = np.zeros((rows, cols), bool)
    r0, r1 = max(top // P, 0), min((bottom - 1) // P, rows - 1)
    c0, c1 = max(left // P, 0), min((right - 1) // P, cols - 1)
    mask[r0 : r1 + 1, c0 : c1 + 1] = True
    return mask


CASES = [
    dict(trajectory="linear", background="brick"),
    dict(trajectory="arc", background="noise", shape="disc", num_objects=2),
    dict(trajectory="oscillate", background="coffee", num_objects=3, object_size=9),
    dict(trajectory="linear", background="flat", speed=0.4),  # sub-pixel speed: some still frames
]


@pytest.mark.parametrize("case", CASES)
def test_mask_iff_pixels_changed_and_only_near_objects(case):
    cfg = SceneConfig(num_frames=10, height=40, width=56, patch_size=P, **case)
    scene = make_scene(cfg, seed=7)
    mask = scene.motion_mask.numpy()
    assert mask.shape == (10, 5, 7) and mask.dtype == bool
    assert not mask[0].any()
    assert np.array_equal(mask, _changed_patches(scene.frames, P))
    boxes = scene.boxes.numpy()
    for t in range(1, 10):  # no pan: only patches under the old or new object can change
        near = np.zeros_like(mask[t])
        for k in range(cfg.num_objects):
            near |= _box_patches(boxes[t, k], 5, 7) | _box_patches(boxes[t - 1, k], 5, 7)
        assert not (mask[t] & ~near).any()
        moved = (boxes[t] != boxes[t - 1]).any()
        assert mask[t].any() == moved


def test_same_seed_same_scene_other_seed_differs():
    cfg = SceneConfig(num_frames=4, height=32, width=32, patch_size=P, noise_std=3.0)
    a, b, c = make_scene(cfg, 1), make_scene(cfg, 1), make_scene(cfg, 2)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.motion_mask, b.motion_mask)
    assert not torch.equal(a.frames, c.frames)


def test_noise_and_lighting_leave_the_mask_alone():
    base = SceneConfig(num_frames=6, height=32, width=48, patch_size=P, background="grass")
    clean = make_scene(base, seed=3)
    noisy = make_scene(replace(base, noise_std=4.0, lighting_change=0.3), seed=3)
    assert torch.equal(clean.motion_mask, noisy.motion_mask)
    assert not torch.equal(clean.frames, noisy.frames)
    # the lighting ramp brightens later frames on average
    assert noisy.frames[-1].float().mean() > clean.frames[-1].float().mean() + 5


def test_pan_moves_the_textured_background():
    cfg = SceneConfig(
        num_frames=5,
        height=32,
        width=32,
        patch_size=P,
        num_objects=0,
        background="brick",
        pan=(0.0, 2.0),
    )
    scene = make_scene(cfg, seed=0)
    assert scene.motion_mask[1:].float().mean() > 0.9
    assert torch.equal(scene.frames[1, :, :-2], scene.frames[0, :, 2:])  # shifted by 2 px
    still = make_scene(replace(cfg, pan=(0.0, 0.0)), seed=0)
    assert not still.motion_mask.any()


def test_static_object_means_no_motion():
    scene = make_scene(SceneConfig(num_frames=4, height=32, width=32, patch_size=P, speed=0.0))
    assert not scene.motion_mask.any()


@pytest.mark.parametrize("trajectory", ["linear", "arc", "oscillate"])
def test_objects_stay_inside_the_frame(trajectory):
    cfg = SceneConfig(
        num_frames=40,
        height=36,
        width=60,
        patch_size=P,
        speed=7.0,
        object_size=10,
        trajectory=trajectory,
        num_objects=2,
    )
    boxes = make_scene(cfg, seed=5).boxes.numpy()
    assert boxes[..., :2].min() >= 0
    assert boxes[..., 2].max() <= 36 and boxes[..., 3].max() <= 60
    step = np.abs(np.diff(boxes[..., :2], axis=0)).max()
    assert 0 < step <= 8  # about `speed` per frame (rounding adds at most 1)


def test_moving_square_entry_point():
    scene = moving_square(num_frames=5, size=32, square=8, speed=4, patch_size=P)
    assert scene.frames.shape == (5, 32, 32, 3) and scene.frames.dtype == torch.uint8
    assert scene.motion_mask.shape == (5, 4, 4)
    assert scene.motion_mask[1:].any(dim=(1, 2)).all()  # the square moves every frame
    assert scene.motion_mask[1:].sum() < scene.motion_mask[1:].numel() / 2  # background static


def test_real_texture_is_used_when_available():
    assert _skimage_texture("brick") is not None
    scene = make_scene(
        SceneConfig(
            num_frames=1, height=32, width=32, num_objects=0, patch_size=P, background="brick"
        )
    )
    assert scene.frames.float().std() > 5  # a texture, not a flat fill


def test_config_validation():
    with pytest.raises(ValueError, match="trajectory"):
        SceneConfig(trajectory="zigzag")
    with pytest.raises(ValueError, match="object_size"):
        SceneConfig(height=16, width=16, patch_size=8, object_size=20)
    with pytest.raises(ValueError, match="background"):
        SceneConfig(background="lava")
