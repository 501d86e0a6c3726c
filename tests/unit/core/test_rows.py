"""Stacking single-stream states into one batch and splitting them back."""

from __future__ import annotations

import pytest
import torch

from neuroflow.archs import make_arch
from neuroflow.baselines.random_keep import RandomKeepState
from neuroflow.core.gate import GateState
from neuroflow.core.rows import select_rows, split_state, stack_states


def test_gate_states_stack_and_split_with_lazy_buffers_zero_filled():
    used, fresh = GateState(1, 0.1, 0.2), GateState(2, 0.3, 0.4)
    used.ema, used.age = torch.ones(1, 4, 3), torch.full((1, 4), 5)
    used.fresh[:] = False
    both = stack_states([used, fresh])
    assert both.batch == 3 and both.ema.shape == (3, 4, 3)
    assert both.threshold.tolist() == pytest.approx([0.1, 0.3, 0.3])
    assert both.fresh.tolist() == [False, True, True]
    assert both.ema[1:].abs().sum() == 0 and both.age[0].tolist() == [5] * 4
    parts = split_state(both)
    assert [p.batch for p in parts] == [1, 1, 1]
    assert torch.equal(parts[0].ema, used.ema)
    parts[0].ema += 1  # a split state owns its rows: the batch is not touched
    assert both.ema[0].max() == 1


def test_stream_states_stack_anchors_on_their_batch_axis(tower, frames):
    arch = make_arch("A", tower, threshold=0.05)
    states = [arch.new_state(1) for _ in range(2)]
    with torch.inference_mode():
        arch(frames[0][None], states[0])
    both = stack_states(states)
    layers = len(tower.blocks)
    assert both.anchors.shape[:2] == (layers, 2) and both.gate.batch == 2
    assert torch.equal(both.anchors[:, 0], states[0].anchors[:, 0])
    assert torch.equal(select_rows(both, [0]).anchors, states[0].anchors)


def test_random_keep_states_keep_their_generators():
    a, b = RandomKeepState(1, seed=1), RandomKeepState(1, seed=2)
    both = stack_states([a, b])
    assert both.generators == [a.generators[0], b.generators[0]]
    a.set_counts([3])
    with pytest.raises(ValueError, match="'counts'.*some streams have it"):
        stack_states([a, b])


def test_mismatched_states_are_refused():
    with pytest.raises(ValueError, match="no stream states"):
        stack_states([])
    with pytest.raises(ValueError, match="different kinds"):
        stack_states([GateState(1, 0.1, 0.1), RandomKeepState(1, 0)])
    a, b = GateState(1, 0.1, 0.1), GateState(1, 0.1, 0.1)
    a.ema, b.ema = torch.zeros(1, 4, 3), torch.zeros(1, 5, 3)
    a.age, b.age = torch.zeros(1, 4), torch.zeros(1, 5)
    with pytest.raises(ValueError, match="per-stream shapes differ"):
        stack_states([a, b])
    with pytest.raises(IndexError):
        select_rows(a, [1])
