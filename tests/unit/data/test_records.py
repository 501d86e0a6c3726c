"""Recoveries land in the item's policy and read as one string (the per-clip record's field)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroflow.data import ClipDataset, ClipRef, ClipSampling, keep_uint8, read_frames
from neuroflow.data.records import describe_recovery
from neuroflow.data.video import read_frames_recorded
from tests.unit.data.clipgen import noise_frames, ramp_frames, truncate, write_video


def _rgba(alpha: int) -> np.ndarray:
    alpha_plane = np.full((5, 16, 24, 1), alpha, np.uint8)
    return np.concatenate([noise_frames(5, 16, 24), alpha_plane], -1)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("recover")
    gray = noise_frames(5, 16, 24)[..., 0]
    write_video(root / "gray.mkv", gray, "ffv1", "gray", input_format="gray")
    write_video(root / "rgba.mov", _rgba(100), "png", "rgba", input_format="rgba")
    write_video(root / "opaque.mov", _rgba(255), "png", "rgba", input_format="rgba")
    write_video(root / "short.avi", ramp_frames(3, 16, 24))
    full = write_video(root / "full.avi", noise_frames(30, 16, 24))
    truncate(full, 0.5, root / "cut.avi")
    full.unlink()
    return root


def _policy(path, frames=8):
    clip = ClipRef(path.name, path)
    return ClipDataset([clip], sampling=ClipSampling(frames), transform=keep_uint8)[0]["policy"]


def test_colour_conversions_are_recorded(clips):
    assert _policy(clips / "gray.mkv", 4) == {"gray_to_rgb": {"source": "gray"}}
    assert _policy(clips / "rgba.mov", 4) == {"alpha_dropped": {"source": "rgba"}}
    assert _policy(clips / "opaque.mov", 4) == {}  # an opaque alpha channel loses nothing


def test_recorded_read_gives_the_same_pixels(clips):
    for name in ("gray.mkv", "rgba.mov"):
        frames, _ = read_frames_recorded(clips / name, [0, 2, 2])
        assert torch.equal(frames, read_frames(clips / name, [0, 2, 2]))


def test_recoveries_combine_in_order(clips):
    short = _policy(clips / "short.avi")
    assert describe_recovery(short) == "repeat_last:5"
    cut = _policy(clips / "cut.avi")
    decoded = cut["decoded_short"]["decoded"]
    assert describe_recovery(cut).endswith(f"decoded_short:{decoded}/30")
    assert describe_recovery(_policy(clips / "gray.mkv")) == "repeat_last:3;gray_to_rgb:gray"


def test_describe_recovery_of_nothing_and_of_unknown_entries():
    assert describe_recovery({}) == "" == describe_recovery(None)
    assert describe_recovery({"custom": {}, "other": 2}) == "custom;other:2"
