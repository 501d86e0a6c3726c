"""Threshold search reaches a target keep fraction on a clip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from neuroflow.bench.threshold import gate_features, keep_fraction, search_threshold
from neuroflow.core.gate import GateConfig


def test_search_hits_the_target(tower, frames):
    features = gate_features(tower, frames, "embedding", chunk=5)
    assert features.shape == (12, 64, 32)
    config = GateConfig(ema_decay=0.1, floor_tokens=1)
    for target in (0.05, 0.1):
        threshold, k = search_threshold(features, config, target, tol=0.01)
        assert k == pytest.approx(target, abs=0.02)
        assert keep_fraction(features, replace(config, threshold=threshold)) == pytest.approx(k)
    # Only the moving block ever changes: an unreachable target gives the closest point.
    most = keep_fraction(features, replace(config, threshold=0.0))
    assert most < 0.5
    assert search_threshold(features, config, 0.9)[1] == pytest.approx(most, abs=0.01)


def test_keep_fraction_falls_as_the_threshold_rises(tower, frames):
    features = gate_features(tower, frames, "patch")
    ks = [
        keep_fraction(features, GateConfig(threshold=t, floor_tokens=0))
        for t in (0.0, 0.01, 0.05, 0.5)
    ]
    assert ks == sorted(ks, reverse=True) and ks[0] > ks[-1]


def test_rejects_impossible_targets(tower, frames):
    features = gate_features(tower, frames[:3], "embedding")
    with pytest.raises(ValueError, match="target keep fraction"):
        search_threshold(features, GateConfig(), 0.0)
