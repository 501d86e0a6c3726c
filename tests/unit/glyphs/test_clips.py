"""Moving-glyph clips: paths, determinism, variants and ground-truth motion masks."""

import numpy as np
import pytest
import torch

from neuroflow.glyphs.clips import ClipSet, ClipSpec, make_clips, patch_mask
from neuroflow.glyphs.paths import PATH_KINDS, sample_path
from neuroflow.glyphs.report import clip_set


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_paths_stay_in_box_and_travel(kind):
    rng = np.random.default_rng(0)
    for _ in range(20):
        path = sample_path(rng, kind, 16, (4, 7), min_travel=8.0)
        assert path.shape == (16, 2)
        assert (np.abs(path[:, 0]) <= 4 + 1e-6).all() and (np.abs(path[:, 1]) <= 7 + 1e-6).all()
        extent = np.sqrt(((path[:, None] - path[None]) ** 2).sum(-1)).max()
        assert extent >= 8.0


def test_path_errors_are_named():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown path kind"):
        sample_path(rng, "spiral", 16, (4, 7), 8.0)
    with pytest.raises(ValueError, match="fits in the"):
        sample_path(rng, "linear", 16, (1, 1), 10.0, tries=5)


def test_clip_set_is_deterministic_and_prefix_stable():
    a = make_clips(4, seed=0)
    b = make_clips(2, seed=0, start=2)
    assert a.frames.shape == (4, 16, 32, 32, 3) and a.frames.dtype == np.uint8
    assert np.array_equal(a.frames[2:], b.frames) and np.array_equal(a.labels[2:], b.labels)
    assert np.array_equal(a.labels, a.first_labels) and (a.change_frame == 16).all()
    assert set(a.path_kind) <= set(PATH_KINDS) and len(a) == 4


def test_motion_mask_follows_the_glyph():
    clips = make_clips(3, ClipSpec(frames=6, noise=0.0), seed=2)
    assert not clips.motion[:, 0].any()
    for i in range(3):
        for t in range(1, 6):
            moved = np.abs(clips.glyph[i, t] - clips.glyph[i, t - 1]) > 0.1
            assert np.array_equal(clips.motion[i, t], moved)
            # Without noise or pan, only moving pixels change at all.
            diff = np.abs(clips.frames[i, t].astype(int) - clips.frames[i, t - 1]).max(-1) > 2
            assert not (diff & ~clips.changed[i, t]).any()
    assert clips.motion.any()


def test_pan_changes_background_but_not_object_motion():
    still = make_clips(2, ClipSpec(frames=5, noise=0.0), seed=4)
    pan = make_clips(2, ClipSpec(frames=5, noise=0.0, pan=1.0), seed=4)
    bg = ~(pan.glyph > 0).any(axis=1)  # pixels the glyph never touches
    assert pan.changed[:, 1:][:, :, bg[0]].mean() > still.changed[:, 1:][:, :, bg[0]].mean()
    assert (pan.changed | ~pan.motion).all()  # motion is a subset of changed


def test_change_variant_switches_digit_mid_clip():
    spec = ClipSpec(frames=10, change=True, change_at=(0.3, 0.5))
    clips = make_clips(6, spec, seed=1)
    assert (clips.labels != clips.first_labels).all()
    assert ((clips.change_frame >= 3) & (clips.change_frame <= 5)).all()
    short = make_clips(3, ClipSpec(frames=3, change=True), seed=0)
    assert (short.change_frame == 1).all()
    i = 0
    t = clips.change_frame[i]
    assert clips.motion[i, t].any()  # the new digit's coverage differs


def test_distractors_add_motion_outside_the_glyph():
    plain = make_clips(3, ClipSpec(frames=8, noise=0.0), seed=5)
    busy = make_clips(3, ClipSpec(frames=8, noise=0.0, distractors=2), seed=5)
    outside_plain = (plain.motion & (plain.glyph == 0)).sum()
    outside_busy = (busy.motion & (busy.glyph == 0)).sum()
    assert outside_busy > outside_plain


def _changed_share(clips: ClipSet) -> float:
    """Share of 4-px patches with scene change per frame after the first."""
    return float(clips.patch_truth(4, "changed")[:, 1:].float().mean())


def test_harder_variants_change_more_patches_than_the_milder_ones():
    share = {name: _changed_share(clip_set(name, 4, 6)) for name in ("moving", "pan", "distractor")}
    for harder, milder in (("fast_pan", "pan"), ("crowded", "distractor")):
        clips = clip_set(harder, 4, 6)
        assert clips.frames.shape == (4, 6, 32, 32, 3)
        assert _changed_share(clips) > share[milder] > share["moving"]


def test_the_noisy_variant_adds_pixel_change_but_no_scene_change():
    moving, noisy = clip_set("moving", 4, 6), clip_set("noisy", 4, 6)
    # Noise is drawn last, so the scenes match and the noise-free truth is the same ...
    assert np.array_equal(noisy.changed, moving.changed) and (noisy.labels == moving.labels).all()

    def static_diff(clips: ClipSet) -> float:
        diff = np.abs(np.diff(clips.frames.astype(np.float32), axis=1)).mean(-1)
        return float(diff[~clips.changed[:, 1:]].mean())

    # ... while the frames differ more where nothing changed, which a reuse gate sees.
    assert static_diff(noisy) > 3 * static_diff(moving)


def test_patch_mask_reduces_pixels_to_patches():
    mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    mask[0, 5, 2] = True
    patches = patch_mask(mask, 4)
    assert patches.shape == (1, 4) and patches[0].tolist() == [False, False, True, False]
    clips = make_clips(1, ClipSpec(frames=3, pan=4.0), seed=0)
    assert clips.patch_motion(4).shape == (1, 3, 64)
    assert torch.equal(clips.patch_motion(4), patch_mask(torch.as_tensor(clips.motion), 4))
    changed = clips.patch_truth(4, "changed")
    assert torch.equal(changed, patch_mask(torch.as_tensor(clips.changed), 4))
    assert changed.sum() > clips.patch_motion(4).sum()  # the pan changes the background too
    with pytest.raises(ValueError, match="which"):
        clips.patch_truth(4, "glyph")
    with pytest.raises(ValueError, match="multiple of the patch"):
        patch_mask(torch.zeros(1, 6, 6, dtype=torch.bool), 4)


def test_bad_clip_specs():
    with pytest.raises(ValueError, match="at least 2 frames"):
        ClipSpec(frames=1)
    with pytest.raises(ValueError, match="change_at"):
        ClipSpec(frames=4, change=True, change_at=(0.5, 1.5))
    with pytest.raises(ValueError, match="non-negative"):
        ClipSpec(pan=-1.0)
    with pytest.raises(ValueError, match="count"):
        make_clips(0)
