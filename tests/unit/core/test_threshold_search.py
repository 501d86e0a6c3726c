"""Threshold search: keep fraction of the whole gate config over streams, and bisection."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from neuroflow.core.gate import GateConfig
from neuroflow.core.threshold_search import gate_features, keep_fraction, search_threshold
from tests.helpers import moving_square_clip


@pytest.fixture
def streams(tower) -> torch.Tensor:
    """``[T, B, N, D]`` gate features of three streams whose squares move at different speeds."""
    clips = [moving_square_clip(frames=6, step=step, seed=step) for step in (1, 3, 6)]
    return gate_features(tower, torch.cat(clips, dim=1), chunk=2)


def test_search_hits_the_target(tower, frames):
    features = gate_features(tower, frames, "embedding", chunk=5)
    assert features.shape == (12, 64, 32)
    config = GateConfig(ema_decay=0.1, floor_tokens=1)
    for target in (0.05, 0.1):
        threshold, k = search_threshold(features, config, target, tol=0.01)
        assert k == pytest.approx(target, abs=0.02)
        assert keep_fraction(features, replace(config, threshold=threshold)) == pytest.approx(k)


def test_keep_fraction_falls_as_the_threshold_rises(tower, frames, streams):
    for features, signal in (
        (gate_features(tower, frames, "patch"), "patch"),
        (streams, "embedding"),
    ):
        ks = [
            keep_fraction(features, GateConfig(threshold=t, floor_tokens=0))
            for t in (0.0, 0.001, 0.01, 0.05, 0.5, 2.0)
        ]
        assert ks == sorted(ks, reverse=True) and ks[0] > ks[-1], signal


def test_floor_tokens_are_honoured(streams):
    n = streams.shape[2]
    # At the top of the range no surprise passes the threshold: only the floor is kept.
    for floor in (0, 4, 9):
        config = GateConfig(threshold=2.0, floor_tokens=floor)
        assert keep_fraction(streams, config) == pytest.approx(floor / n)
    assert keep_fraction(streams, GateConfig(threshold=0.05, floor_tokens=9)) >= 9 / n


def test_the_rest_of_the_config_is_honoured(streams):
    base = GateConfig(threshold=0.05, ema_decay=0.1, floor_tokens=0)
    budget = replace(base, mode="budget", keep_fraction=0.25)
    assert keep_fraction(streams, budget) == pytest.approx(0.25)
    assert keep_fraction(streams, replace(base, max_cache_age=1)) == 1.0
    assert keep_fraction(streams, base, skip_first=False) > keep_fraction(streams, base)
    assert keep_fraction(streams, replace(base, ema_decay=1.0)) != keep_fraction(streams, base)


def test_several_streams_equal_the_mean_of_single_streams(streams):
    config = GateConfig(threshold=0.02, ema_decay=0.2, floor_tokens=2)
    singles = [keep_fraction(streams[:, b], config) for b in range(streams.shape[1])]
    assert len(set(singles)) > 1  # the streams differ, so the mean is a real test
    assert keep_fraction(streams, config) == pytest.approx(sum(singles) / len(singles))


def test_stream_features_match_frame_by_frame_embedding(tower):
    clip = moving_square_clip(frames=3, batch=2)  # [T, B, 3, H, W]
    features = gate_features(tower, clip, "patch")
    for t in range(clip.shape[0]):
        torch.testing.assert_close(features[t], tower.embed(clip[t]).gate_features("patch"))


def test_unreachable_target_raises(tower, frames):
    features = gate_features(tower, frames, "embedding")
    config = GateConfig(ema_decay=0.1, floor_tokens=1)
    # Only the moving block ever changes, so no threshold keeps most patches.
    most = keep_fraction(features, replace(config, threshold=0.0))
    assert most < 0.5
    with pytest.raises(ValueError, match="unreachable"):
        search_threshold(features, config, 0.9)
    threshold, k = search_threshold(features, config, most)  # the top itself is reachable
    assert (threshold, k) == (0.0, most)


def test_rejects_impossible_targets(tower, frames):
    features = gate_features(tower, frames[:3], "embedding")
    for target in (0.0, 1.5):
        with pytest.raises(ValueError, match="target keep fraction"):
            search_threshold(features, GateConfig(), target)
    with pytest.raises(ValueError, match=r"\[T, B, N, D\]"):
        keep_fraction(features[0, 0], GateConfig())


def test_bisect_keep_finds_a_decreasing_settings_value():
    from neuroflow.core.threshold_search import bisect_keep

    seen = []

    def keep_at(v: float) -> float:
        seen.append(v)
        return max(0.0, 1.0 - v) ** 2

    value, keep = bisect_keep(keep_at, 0.25, low=0.0, high=1.0, tol=1e-3, steps=40)
    assert value == pytest.approx(0.5, abs=2e-3) and keep == pytest.approx(0.25, abs=1e-3)
    assert seen[0] == 0.0 and len(seen) < 40
