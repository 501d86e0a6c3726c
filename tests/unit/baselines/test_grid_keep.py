"""Grid keep: exact counts (and random keep's), uniform rows, coverage, dense first frame."""

import math

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.archs import get_method
from neuroflow.baselines.grid_keep import GridKeepC, GridKeepGate, grid_order
from neuroflow.baselines.random_keep import RandomKeepGate
from neuroflow.bench.flops import FlopBreakdown
from neuroflow.core.rows import split_state, stack_states
from tests.helpers import assert_equals_dense_when_keeping_all, moving_square_clip

FRACTIONS = [0.1, 0.2, 0.35, 0.5]
GRIDS = [(8, 8), (14, 14)]


def run_gate(gate, grid, frames, batch=1, state=None):
    """Keep masks ``[T, B, N]`` of ``frames`` steps (the first one dense)."""
    n = grid[0] * grid[1]
    state = state if state is not None else gate.new_state(batch)
    feats = torch.zeros(batch, n, 4)
    kwargs = {"grid": grid} if isinstance(gate, GridKeepGate) else {}
    return torch.stack([gate.step(feats, state, **kwargs).keep_mask for _ in range(frames)])


@pytest.mark.parametrize("gate_type", [GridKeepGate, RandomKeepGate])
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("k", FRACTIONS)
def test_grid_and_random_keep_hit_k_exactly(gate_type, grid, k):
    n = grid[0] * grid[1]
    masks = run_gate(gate_type(keep_fraction=k, floor_tokens=0), grid, frames=12, batch=2)
    assert masks[0].all()  # dense first frame
    assert (masks[1:].sum(-1) == math.ceil(k * n - 1e-9)).all()


def test_grid_count_rule_is_random_keeps():
    for k, floor, n in [(0.1, 0, 64), (0.01, 5, 64), (0.35, 0, 196), (1.0, 0, 7), (0.001, 0, 9)]:
        grid, rand = GridKeepGate(k, floor), RandomKeepGate(k, floor)
        assert grid.count(n) == rand.count(n)
    masks = run_gate(GridKeepGate(0.01, floor_tokens=5), (8, 8), frames=4)
    assert (masks[1:].sum(-1) == 5).all()


def test_the_order_visits_every_patch_once():
    for rows, cols in [*GRIDS, (6, 10), (7, 9), (1, 5), (3, 1)]:
        assert sorted(grid_order(rows, cols).tolist()) == list(range(rows * cols))


@pytest.mark.parametrize("grid", [*GRIDS, (6, 10)])
@pytest.mark.parametrize("k", FRACTIONS)
def test_kept_patches_are_spread_over_rows_and_columns(grid, k):
    rows, cols = grid
    masks = run_gate(GridKeepGate(k, floor_tokens=0), grid, frames=30)[1:, 0]
    per_row = masks.view(-1, rows, cols).sum(2)
    per_col = masks.view(-1, rows, cols).sum(1)
    # Rows: at most 1 apart (proved in the module docstring); columns: at most 2 apart.
    assert (per_row.amax(1) - per_row.amin(1)).max() <= 1
    assert (per_col.amax(1) - per_col.amin(1)).max() <= 2


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("k", [*FRACTIONS, 0.03, 0.9])
def test_every_patch_is_refreshed_within_ceil_one_over_k_frames(grid, k):
    window = math.ceil(1 / k)
    masks = run_gate(GridKeepGate(k, floor_tokens=0), grid, frames=3 * window + 5)[1:, 0]
    for start in range(len(masks) - window + 1):  # every phase, not just the first window
        assert masks[start : start + window].any(0).all(), f"window at frame {start + 1}"


def test_set_counts_matches_another_gate_frame_by_frame():
    gate = GridKeepGate(0.2, floor_tokens=0)
    state = gate.new_state(2)
    feats = torch.zeros(2, 64, 4)
    gate.step(feats, state)
    state.set_counts([0, 20])
    first = gate.step(feats, state).keep_mask
    assert first.sum(1).tolist() == [0, 20]
    state.set_counts([64, 100])  # above N: clamped to every patch
    assert gate.step(feats, state).keep_mask.all()
    state.set_counts(None)
    assert gate.step(feats, state).keep_mask.sum(1).tolist() == [13, 13]
    with pytest.raises(ValueError, match="need 2 non-negative counts"):
        state.set_counts([1, -1])


def test_streams_are_independent_and_deterministic():
    gate = GridKeepGate(0.2, floor_tokens=0)
    solo = run_gate(gate, (8, 8), frames=6, batch=1)[:, 0]
    state = gate.new_state(3)
    feats = torch.zeros(3, 64, 4)
    masks = []
    for t in range(8):
        if t == 2:
            state.reset(streams=[1])  # stream 1 restarts: its next frames replay `solo`
        masks.append(gate.step(feats, state, grid=(8, 8)).keep_mask)
    masks = torch.stack(masks)
    assert torch.equal(masks[2:, 1], solo)
    assert torch.equal(masks[:6, 0], solo) and torch.equal(masks[:6, 2], solo)
    assert torch.equal(solo, run_gate(gate, (8, 8), frames=6)[:, 0])  # nothing random


def test_state_stacks_and_splits_by_rows():
    gate = GridKeepGate(0.2, floor_tokens=0)
    a, b = gate.new_state(1), gate.new_state(1)
    run_gate(gate, (8, 8), frames=3, state=a)
    run_gate(gate, (8, 8), frames=1, state=b)
    both = stack_states([a, b])
    out = run_gate(gate, (8, 8), frames=2, batch=2, state=both)
    assert torch.equal(out[:, 0], run_gate(gate, (8, 8), frames=2, state=a)[:, 0])
    assert torch.equal(out[:, 1], run_gate(gate, (8, 8), frames=2, state=b)[:, 0])
    assert [s.batch for s in split_state(both)] == [1, 1] and both.nbytes() > 0


def test_bad_input_is_named():
    gate = GridKeepGate(0.2)
    with pytest.raises(ValueError, match="keep_fraction"):
        GridKeepGate(0.0)
    with pytest.raises(ValueError, match="does not hold"):
        gate.step(torch.zeros(1, 64, 4), gate.new_state(1), grid=(4, 8))
    with pytest.raises(ValueError, match="made for 3"):
        gate.step(torch.zeros(2, 64, 4), gate.new_state(3))
    with pytest.raises(ValueError, match="floor_tokens=65"):
        GridKeepGate(0.2, floor_tokens=65).step(torch.zeros(1, 64, 4), gate.new_state(1))


@pytest.mark.parametrize("source", ["tiny-siglip", "tiny-clip"])
def test_grid_c_keeping_everything_equals_dense(source):
    tower = load_vision_model(source)
    grid = make_arch("grid_C", tower, keep_fraction=1.0)
    assert_equals_dense_when_keeping_all(grid, tower, moving_square_clip(frames=4, batch=2))


@pytest.mark.parametrize("name", ["grid_C", "random_C"])
def test_keep_settings_run_the_method_at_k(tower, name):
    cls = get_method(name)
    arch = make_arch(name, tower, **cls.keep_settings(0.2))
    state = arch.new_state(2)
    with torch.inference_mode():
        outs = [arch(frame, state) for frame in moving_square_clip(frames=4, batch=2)]
    assert outs[0].keep_fraction.eq(1).all()
    for out in outs[1:]:
        assert out.keep_mask.sum(1).tolist() == [13, 13]  # ceil(0.2 * 64)
        torch.testing.assert_close(out.keep_fraction, torch.full((2,), 13 / 64))


def test_grid_c_lays_the_pattern_on_the_frames_grid(tower):
    arch = make_arch("grid_C", tower, keep_fraction=0.25, floor_tokens=0)
    assert isinstance(arch, GridKeepC)
    frames = torch.rand(3, 2, 3, 32, 64) * 2 - 1  # an 8 x 16 patch grid, not square
    state = arch.new_state(2)
    with torch.inference_mode():
        masks = [arch(frame, state).keep_mask for frame in frames]
    per_row = masks[1].view(2, 8, 16).sum(2)
    assert (per_row == 4).all()  # 32 patches over 8 rows: 4 each
    assert state.cache is not None and state.cache.shape[1] == 128


def test_cost_model_is_arch_cs():
    bd = FlopBreakdown(64, 0, 2, 32, 1e6, 2e5, 4e5, 1e3, 1e4, 1e3)
    for k in (0.0, 0.2, 1.0):
        assert GridKeepC.frame_flops(bd, k) == get_method("C").frame_flops(bd, k)
    assert GridKeepC.frame_flops(bd, 0.2) < GridKeepC.frame_flops(bd, 1.0)
