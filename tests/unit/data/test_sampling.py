"""Frame-index sampling: uniform, consecutive windows, short clips with recorded padding."""

from __future__ import annotations

import pytest

from neuroflow.data import consecutive_indices, sample_indices, uniform_indices, window_starts


@pytest.mark.parametrize(("available", "num"), [(16, 16), (17, 16), (250, 16), (1000, 7), (3, 1)])
def test_uniform_covers_clip_in_order(available, num):
    picked = uniform_indices(available, num)
    idx = picked.indices
    assert len(idx) == num and picked.policy == {}
    assert idx == sorted(idx) and len(set(idx)) == num
    assert idx[0] == 0 and (num == 1 or idx[-1] == available - 1)
    gaps = [b - a for a, b in zip(idx, idx[1:], strict=False)]
    assert not gaps or max(gaps) - min(gaps) <= 1  # evenly spread


def test_uniform_short_clip_repeats_last_and_records():
    picked = uniform_indices(5, 8)
    assert picked.indices == [0, 1, 2, 3, 4, 4, 4, 4]
    assert picked.policy == {"repeat_last": {"available": 5, "requested": 8, "added": 3}}


def test_consecutive_with_stride_and_padding():
    assert consecutive_indices(100, 4, stride=3, start=10).indices == [10, 13, 16, 19]
    padded = consecutive_indices(10, 4, stride=3, start=2)
    assert padded.indices == [2, 5, 8, 8]
    assert padded.policy["repeat_last"]["added"] == 1
    assert consecutive_indices(5, 2, start=99).indices == [4, 4]  # start clamped


def test_window_starts():
    assert window_starts(20, 4, stride=2) == [0, 8]  # span 7, non-overlapping step 8
    assert window_starts(20, 4, step=5) == [0, 5, 10, 15]
    assert window_starts(3, 8) == [0]  # one padded window
    for start in window_starts(50, 5, stride=2, step=3):
        assert consecutive_indices(50, 5, stride=2, start=start).policy == {}


def test_dispatch_and_errors():
    assert sample_indices(10, 2).indices == [0, 9]
    assert sample_indices(10, 2, mode="consecutive", stride=2, start=1).indices == [1, 3]
    with pytest.raises(ValueError, match="unknown sampling mode"):
        sample_indices(10, 2, mode="random")
    with pytest.raises(ValueError, match="0 frames"):
        uniform_indices(0, 4)
    with pytest.raises(ValueError, match="num_frames"):
        uniform_indices(4, 0)
    with pytest.raises(ValueError, match="step"):
        window_starts(10, 2, step=0)
