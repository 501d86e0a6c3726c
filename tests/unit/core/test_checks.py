"""Settings and stream indices that would be silently misread are refused, by name."""

import numpy as np
import pytest
import torch

from neuroflow.core.gate import GateConfig, RetinalGate, stream_indices


def features(b=2, n=16, d=8):
    return torch.randn(b, n, d, generator=torch.Generator().manual_seed(0))


def test_floor_above_the_patch_count_names_both_numbers():
    gate = RetinalGate(floor_tokens=20)
    with pytest.raises(ValueError, match=r"floor_tokens=20 .* 16 patches"):
        gate.step(features(n=16), gate.new_state(2))
    budget = RetinalGate(mode="budget", floor_tokens=17)
    with pytest.raises(ValueError, match=r"floor_tokens=17 .* 16 patches"):
        budget.step(features(n=16), budget.new_state(2))
    # A floor of exactly N is allowed: every patch is kept.
    gate = RetinalGate(threshold=2.0, floor_tokens=16)
    state = gate.new_state(2)
    gate.step(features(n=16), state)
    assert gate.step(features(n=16), state).keep_mask.all()


@pytest.mark.parametrize("age", [2.5, "3", True, float("inf"), 0])
def test_max_cache_age_must_be_a_positive_integer(age):
    with pytest.raises(ValueError, match="max_cache_age must be an integer >= 1 or None"):
        GateConfig(max_cache_age=age)


def test_integral_settings_still_pass():
    assert GateConfig(max_cache_age=3.0, floor_tokens=np.int64(2)).max_cache_age == 3.0
    assert GateConfig(max_cache_age=None).max_cache_age is None


@pytest.mark.parametrize("flag", [True, False, np.bool_(True), torch.tensor(True)])
def test_boolean_threshold_is_refused(flag):
    with pytest.raises(ValueError, match="threshold must be a number, got the boolean"):
        GateConfig(threshold=flag)
    state = RetinalGate().new_state(2)
    with pytest.raises(ValueError, match="threshold"):
        state.set_threshold(flag)
    with pytest.raises(ValueError, match="ema_decay"):
        state.set_ema_decay(flag)


def test_boolean_floor_is_refused():
    with pytest.raises(ValueError, match="floor_tokens"):
        GateConfig(floor_tokens=True)


@pytest.mark.parametrize("streams", [[0.5], [1.0], [True], torch.tensor([0.5]), "0", 1])
def test_non_integer_stream_indices_are_refused(streams):
    with pytest.raises(ValueError, match="stream ind"):
        stream_indices(2, streams)


def test_a_fractional_stream_index_resets_nothing():
    gate = RetinalGate(threshold=0.1, ema_decay=0.5, floor_tokens=0)
    state = gate.new_state(2)
    gate.step(features(), state)
    with pytest.raises(ValueError, match="integers"):
        state.reset(streams=[0.5])
    with pytest.raises(ValueError, match="integers"):
        state.force_keyframe(streams=[0.5])
    assert not state.fresh.any() and not state.force.any()
    assert not gate.step(features(), state).keep_mask.any()


@pytest.mark.parametrize(
    "streams",
    [[1], (0, 1), range(2), torch.tensor([1]), np.array([0, 1]), [np.int64(1)], []],
)
def test_integer_stream_indices_of_every_kind_pass(streams):
    assert stream_indices(2, streams).dtype == torch.long


def test_reset_also_clears_the_patch_ages():
    gate = RetinalGate(threshold=2.0, floor_tokens=0, max_cache_age=3, dense_first_frame=False)
    state = gate.new_state(1)
    for _ in range(2):
        gate.step(features(1), state)
    state.reset()
    fresh = gate.new_state(1)
    for _ in range(3):
        torch.testing.assert_close(
            gate.step(features(1), state).keep_mask, gate.step(features(1), fresh).keep_mask
        )
