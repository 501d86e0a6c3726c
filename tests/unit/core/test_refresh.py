"""Event-triggered refresh: signals, the choice of stale patches, and the scheduled response."""

from __future__ import annotations

import pytest
import torch

from neuroflow.core.gate import GateConfig, RetinalGate
from neuroflow.core.packing import make_packing
from neuroflow.core.refresh import (
    EventRefresh,
    embedding_change,
    output_drift,
    stalest,
    surprise_mass,
)


def test_stalest_picks_the_oldest_patches_and_breaks_ties_by_index():
    age = torch.tensor([[0, 3, 1, 3, 2], [5, 5, 5, 5, 5]])
    assert stalest(age, 2).tolist() == [
        [False, True, False, True, False],
        [True, True, False, False, False],
    ]
    assert stalest(age, 0).sum() == 0 and stalest(age, 9).all()


def test_output_drift_is_the_mean_cosine_distance_per_stream():
    keep = torch.tensor([[True, True, False], [False, False, False], [True, False, False]])
    packing = make_packing(keep)
    before = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    after = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    # Stream 0: distances 0 and 1; stream 1 recomputed nothing; stream 2: distance 2.
    assert output_drift(before, after, packing).tolist() == pytest.approx([0.5, 0.0, 2.0])


def test_embedding_change_and_surprise_mass():
    now = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert embedding_change(None, now).tolist() == [0.0, 0.0]
    before = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    assert embedding_change(before, now).tolist() == pytest.approx([0.0, 1.0])
    assert surprise_mass(torch.tensor([[0.0, 0.5], [1.0, 1.0]])).tolist() == [0.25, 1.0]


def test_the_event_never_fires_on_a_first_frame():
    refresh = EventRefresh(trigger=0.1)
    value = torch.tensor([0.05, 0.2, 0.9])
    first = torch.tensor([False, False, True])
    assert refresh.fired(value, first).tolist() == [False, True, False]


@pytest.mark.parametrize(
    "bad",
    [{"signal": "motion"}, {"response": "reset"}, {"trigger": -0.1}, {"budget": 0.0}],
)
def test_bad_settings_are_named(bad):
    with pytest.raises(ValueError, match="refresh"):
        EventRefresh(**bad)


def _gate_state(frames: int = 3):
    gate = RetinalGate(GateConfig(mode="budget", keep_fraction=0.25, floor_tokens=0))
    state = gate.new_state(2)
    torch.manual_seed(0)
    for _ in range(frames):
        gate.step(torch.randn(2, 8, 4), state)
    return gate, state


def test_a_keyframe_response_recomputes_every_patch_of_the_fired_streams_only():
    gate, state = _gate_state()
    EventRefresh(response="keyframe").respond(state, torch.tensor([False, True]))
    out = gate.step(torch.randn(2, 8, 4), state)
    assert out.keep_fraction.tolist() == [0.25, 1.0]


def test_a_stalest_response_adds_the_oldest_patches_to_the_next_frame():
    gate, state = _gate_state()
    oldest = stalest(state.age, 4)
    EventRefresh(response="stalest", budget=0.5).respond(state, torch.tensor([True, False]))
    out = gate.step(torch.randn(2, 8, 4), state)
    assert out.keep_mask[0][oldest[0]].all()  # the four stalest of stream 0 are recomputed
    assert out.keep_fraction[1] == 0.25  # stream 1 did not fire: its budget only
    assert out.keep_fraction[0] > 0.25  # refreshed patches count in the keep fraction
