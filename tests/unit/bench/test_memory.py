"""Per-stream state size: Arch C keeps 2 N D elements plus O(N)."""

from __future__ import annotations

import torch

from neuroflow.archs import make_arch
from neuroflow.bench.memory import state_size, state_tensors


def run_frames(arch, frames, streams):
    state = arch.new_state(streams)
    with torch.inference_mode():
        for frame in frames[:3]:
            arch(frame.expand(streams, -1, -1, -1), state)
    return state


def test_arch_c_state_is_two_n_d_plus_o_n(tower, frames):
    n, d = 64, 32
    size = state_size(run_frames(make_arch("C", tower, threshold=0.1), frames, 3), 3)
    assert 2 * n * d <= size.elements_per_stream <= 2 * n * d + 4 * n
    assert size.bytes_per_stream <= 4 * (2 * n * d) + 8 * 4 * n


def test_dense_keeps_nothing_and_b_keeps_only_the_gate(tower, frames):
    assert state_size(run_frames(make_arch("dense", tower), frames, 2), 2).elements == 0
    b = state_size(run_frames(make_arch("B", tower, threshold=0.1), frames, 2), 2)
    assert 64 * 32 <= b.elements_per_stream <= 64 * 32 + 4 * 64


def test_tensors_are_counted_once():
    shared = torch.zeros(10)
    state = {"a": shared, "b": [shared, torch.ones(3)], "c": (shared,)}
    assert sorted(t.numel() for t in state_tensors(state)) == [3, 10]
