"""Staleness options of the retinal gate: staggered refresh, dual-rate EMA, dilation, and
refresh requests on the state."""

from __future__ import annotations

import math

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.core.gate import GateConfig, RetinalGate
from neuroflow.core.rows import split_state, stack_states
from tests.helpers import moving_square_clip


def features(b=2, n=16, d=8, seed=0):
    return torch.randn(b, n, d, generator=torch.Generator().manual_seed(seed))


def surprising(base, patches):
    """``base`` with the given ``(stream, patch)`` features negated: surprise 2 against it."""
    moved = base.clone()
    for b, i in patches:
        moved[b, i] = -base[b, i]
    return moved


def chebyshev_ball(rows, cols, centre, radius):
    r, c = divmod(centre, cols)
    rr, cc = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    return ((rr - r).abs().maximum((cc - c).abs()) <= radius).flatten()


# --- stagger ---------------------------------------------------------------------------


def test_stagger_refreshes_round_robin_after_the_dense_first_frame():
    m, n = 4, 16
    gate = RetinalGate(threshold=2.0, floor_tokens=0, max_cache_age=m, stagger=True)
    state, h = gate.new_state(2), features(2, n)
    assert gate.step(h, state).keep_mask.all()
    patches = torch.arange(n)
    masks = []
    for t in range(1, 9):
        out = gate.step(h, state)
        expected = ((t + patches) % m == 0).expand(2, n)
        assert torch.equal(out.keep_mask, expected), t
        assert torch.allclose(out.keep_fraction, torch.full((2,), 1 / m))
        masks.append(out.keep_mask)
    for a, b in zip(masks, masks[1:], strict=False):
        assert not (a & b).any()  # consecutive frames refresh different patches
    for start in range(len(masks) - m + 1):  # every window of m frames covers every patch
        assert torch.stack(masks[start : start + m]).any(dim=0).all()
    assert int(state.age.max()) < m


def test_without_stagger_the_refresh_is_a_periodic_dense_frame():
    gate = RetinalGate(threshold=2.0, floor_tokens=0, max_cache_age=4)
    state, h = gate.new_state(1), features(1)
    counts = [int(gate.step(h, state).keep_mask.sum()) for _ in range(9)]
    assert counts == [16, 0, 0, 0, 16, 0, 0, 0, 16]


def test_stagger_phase_restarts_with_the_stream():
    gate = RetinalGate(threshold=2.0, floor_tokens=0, max_cache_age=3, stagger=True)
    state, h = gate.new_state(2), features(2)
    for _ in range(2):
        gate.step(h, state)
    state.reset([1])
    out = gate.step(h, state)  # stream 0 at t=2, stream 1 fresh (t=0: dense)
    assert torch.equal(out.keep_mask[0], (2 + torch.arange(16)) % 3 == 0)
    assert out.keep_mask[1].all()
    out = gate.step(h, state)
    assert torch.equal(out.keep_mask[1], (1 + torch.arange(16)) % 3 == 0)


def test_stagger_needs_max_cache_age():
    with pytest.raises(ValueError, match="stagger=True.*max_cache_age"):
        GateConfig(stagger=True)


# --- dual-rate EMA -----------------------------------------------------------------------


def frames_active(gate, after=10):
    """Per frame (of ``after``), whether patch 0 is active after it switched and stayed still."""
    state = gate.new_state(1)
    old = features(1, n=4)
    old[0, 0] = torch.eye(8)[0]
    new = old.clone()
    new[0, 0] = torch.eye(8)[1]  # orthogonal: surprise 1 on the first changed frame
    for _ in range(3):
        gate.step(old, state)
    outs = [gate.step(new, state) for _ in range(after)]
    assert not any(o.keep_mask[0, 1:].any() for o in outs)  # the unchanged patches stay off
    return [bool(o.keep_mask[0, 0]) for o in outs]


def ema_surprise(decay: float, frames: int) -> list[float]:
    """Surprise of a patch that switched from e0 to e1 and stayed, frame by frame: the EMA
    after ``j`` updates is ``r e0 + (1 - r) e1`` with ``r = (1 - decay) ** j``."""
    out = []
    for j in range(frames):
        r = (1 - decay) ** j
        out.append(1 - (1 - r) / math.hypot(r, 1 - r))
    return out


def test_slow_ema_keeps_a_stopped_patch_surprising():
    fast = RetinalGate(threshold=0.1, ema_decay=0.5, floor_tokens=0)
    dual = RetinalGate(threshold=0.1, ema_decay=0.5, floor_tokens=0, slow_ema_decay=0.01)
    # The fast EMA absorbs it: active exactly while its closed-form surprise exceeds 0.1
    # (frames 0 and 1: surprise 1, then 0.29; then 0.05), and never again.
    expected = [s > 0.1 for s in ema_surprise(0.5, 10)]
    assert expected[:3] == [True, True, False] and not any(expected[2:])
    assert frames_active(fast) == expected
    # Against the slow EMA it stays surprising on every frame.
    assert all(s > 0.1 for s in ema_surprise(0.01, 10))
    assert frames_active(dual) == [True] * 10


def test_slow_ema_starts_from_the_frame_and_moves_at_its_own_rate():
    gate = RetinalGate(threshold=0.0, ema_decay=0.5, floor_tokens=0, slow_ema_decay=0.1)
    state = gate.new_state(2)
    h0, h1 = features(seed=1), features(seed=2)
    gate.step(h0, state)
    assert torch.equal(state.slow_ema, h0) and torch.equal(state.ema, h0)
    out = gate.step(h1, state)
    assert torch.allclose(state.slow_ema, 0.9 * h0 + 0.1 * h1, atol=1e-6)
    assert torch.allclose(state.ema, 0.5 * h0 + 0.5 * h1, atol=1e-6)
    assert torch.allclose(out.surprise, 1 - torch.cosine_similarity(h1, h0, dim=-1), atol=1e-6)
    state.reset([0])  # a fresh stream takes its next frame into both EMAs
    gate.step(h1, state)
    assert torch.equal(state.slow_ema[0], h1[0]) and not torch.equal(state.slow_ema[1], h1[1])


@pytest.mark.parametrize("slow", [0.01, 0.02, 0.0, float("nan"), True])
def test_slow_ema_decay_must_be_slower_than_the_ema(slow):
    with pytest.raises(ValueError, match="slow_ema_decay"):
        GateConfig(ema_decay=0.01, slow_ema_decay=slow)


def test_dual_rate_states_stack_and_split():
    gate = RetinalGate(threshold=0.05, ema_decay=0.5, floor_tokens=1, slow_ema_decay=0.05)
    singles = [gate.new_state(1) for _ in range(2)]
    for b, state in enumerate(singles):
        for t in range(3):
            gate.step(features(1, seed=10 * b + t), state)
    both = stack_states([*singles, gate.new_state(1)])  # the third has no slow EMA yet
    assert both.slow_ema.shape == (3, 16, 8) and both.slow_ema[2].abs().sum() == 0
    assert torch.equal(both.slow_ema[1], singles[1].slow_ema[0])
    assert both.nbytes() == sum(p.nbytes() for p in split_state(both))  # slow EMA counted
    assert both.nbytes() > 2 * both.ema.numel() * both.ema.element_size()
    h = features(3, seed=99)
    together = gate.step(h, both)
    for b, state in enumerate(singles):
        alone = gate.step(h[b : b + 1], state)
        assert torch.equal(alone.keep_mask[0], together.keep_mask[b])
        assert torch.allclose(alone.surprise[0], together.surprise[b])
    assert together.keep_mask[2].all()  # the fresh stream's first frame is dense
    parts = split_state(both)
    assert torch.equal(parts[0].slow_ema, singles[0].slow_ema)


# --- dilation ----------------------------------------------------------------------------


def test_dilation_keeps_the_neighbourhood_in_threshold_mode():
    gate = RetinalGate(threshold=0.5, ema_decay=1.0, floor_tokens=0, dilation=1)
    state, base = gate.new_state(2), features(2)
    gate.step(base, state)
    out = gate.step(surprising(base, [(0, 5), (1, 15)]), state)  # (1, 1) and a corner (3, 3)
    assert torch.equal(out.keep_mask[0], chebyshev_ball(4, 4, 5, 1))
    assert torch.equal(out.keep_mask[1], chebyshev_ball(4, 4, 15, 1))
    assert out.keep_mask.sum(dim=1).tolist() == [9, 4]
    assert (out.surprise > 0.5).sum(dim=1).tolist() == [1, 1]  # reported surprise: undilated


def test_dilation_keeps_exactly_the_budget():
    gate = RetinalGate(mode="budget", keep_fraction=0.25, floor_tokens=2, dilation=1)
    state = gate.new_state(3)
    gate.step(features(3, seed=0), state)
    for seed in (1, 2):
        out = gate.step(features(3, seed=seed), state)
        assert out.keep_mask.sum(dim=1).tolist() == [4, 4, 4]


def test_dilation_on_a_wide_grid_needs_the_grid():
    gate = RetinalGate(threshold=0.5, ema_decay=1.0, floor_tokens=0, dilation=1)
    state, base = gate.new_state(1), features(1, n=16)
    state.grid = (2, 8)
    gate.step(base, state)
    out = gate.step(surprising(base, [(0, 0)]), state)
    assert out.keep_mask[0].nonzero().flatten().tolist() == [0, 1, 8, 9]
    wide = gate.new_state(1)
    with pytest.raises(ValueError, match="no square grid"):
        gate.step(features(1, n=32), wide)
    wide.grid = (3, 3)
    with pytest.raises(ValueError, match="3x3 does not hold"):
        gate.step(features(1, n=32), wide)


@pytest.mark.parametrize("radius", [-1, 1.5, None])
def test_bad_dilation_is_refused(radius):
    with pytest.raises(ValueError, match="dilation"):
        GateConfig(dilation=radius)


def test_architectures_hand_the_grid_to_the_gate():
    tower = load_vision_model("tiny-siglip")
    arch = make_arch("C", tower, threshold=0.3, floor_tokens=0, dilation=1)
    clip = moving_square_clip(frames=2, batch=1)
    wide = torch.cat([clip, clip.flip(-1)], dim=-1)  # 32 x 64 px: 8 x 16 patches, no square
    state = arch.new_state(1)
    with torch.inference_mode():
        for frame in wide:
            out = arch(frame, state)
    assert state.gate.grid == (8, 16) and out.keep_mask.shape == (1, 128)


# --- refresh requests --------------------------------------------------------------------


def test_requested_patches_are_kept_next_frame_counted_then_cleared():
    gate = RetinalGate(threshold=2.0, floor_tokens=0)
    state, h = gate.new_state(2), features(2)
    gate.step(h, state)
    gate.step(h, state)
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[0, [2, 5]] = True
    state.request_refresh(mask)
    more = torch.zeros(2, 16, dtype=torch.bool)
    more[:, 7] = True
    state.request_refresh(more)  # requests accumulate
    mask |= more
    assert state.pending_count().tolist() == [3, 1]
    out = gate.step(h, state)
    assert torch.equal(out.keep_mask, mask)
    assert torch.allclose(out.keep_fraction, torch.tensor([3 / 16, 1 / 16]))
    assert state.age[mask].eq(0).all() and state.age[~mask].eq(2).all()
    assert state.pending_count().tolist() == [0, 0]
    assert not gate.step(h, state).keep_mask.any()


def test_requests_add_to_the_budget_and_keyframes_still_work():
    gate = RetinalGate(mode="budget", keep_fraction=0.25, floor_tokens=0, ema_decay=1.0)
    state, h = gate.new_state(2), features(2)
    gate.step(h, state)
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[0, [10, 11]] = True
    state.request_refresh(mask)
    state.force_keyframe([1])
    out = gate.step(surprising(h, [(0, i) for i in range(4)]), state)  # the budget: 0..3
    assert out.keep_mask[0].nonzero().flatten().tolist() == [0, 1, 2, 3, 10, 11]
    assert out.keep_mask[1].all() and not out.first_frame.any()


def test_reset_drops_the_streams_requests():
    gate = RetinalGate(threshold=2.0, floor_tokens=0)
    state = gate.new_state(2)
    empty = state.nbytes()
    state.request_refresh(torch.ones(2, 16, dtype=torch.bool))  # before any frame: any N
    assert state.nbytes() == empty + 2 * 16  # the pending buffer counts
    state.reset([0])
    assert state.pending_count().tolist() == [0, 16]


@pytest.mark.parametrize(
    "mask",
    [
        torch.ones(2, 17, dtype=torch.bool),
        torch.ones(3, 16, dtype=torch.bool),
        torch.ones(2, 16),
        torch.ones(2, 16, 1, dtype=torch.bool),
        [[True] * 16] * 2,
    ],
)
def test_bad_refresh_masks_are_refused(mask):
    gate = RetinalGate()
    state = gate.new_state(2)
    gate.step(features(2), state)
    with pytest.raises(ValueError, match=r"refresh mask must be a \[2, 16\] bool tensor"):
        state.request_refresh(mask)


def test_requests_for_another_patch_count_are_refused_at_the_step():
    gate = RetinalGate()
    state = gate.new_state(1)
    state.request_refresh(torch.ones(1, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match="refresh requests name 9 patches, not 16"):
        gate.step(features(1), state)


# --- defaults and exactness --------------------------------------------------------------


def test_options_are_off_by_default():
    implicit = RetinalGate(threshold=0.1, ema_decay=0.3, floor_tokens=2, max_cache_age=3)
    explicit = RetinalGate(
        threshold=0.1,
        ema_decay=0.3,
        floor_tokens=2,
        max_cache_age=3,
        stagger=False,
        slow_ema_decay=None,
        dilation=0,
    )
    states = [implicit.new_state(2), explicit.new_state(2)]
    for seed in range(5):
        a = implicit.step(features(seed=seed), states[0])
        b = explicit.step(features(seed=seed), states[1])
        assert torch.equal(a.keep_mask, b.keep_mask) and torch.equal(a.surprise, b.surprise)
    state = states[0]
    assert state.slow_ema is None and state.pending is None
    rows = (state.threshold, state.ema_decay, state.fresh, state.force, state.frames)
    own = sum(t.numel() * t.element_size() for t in (*rows, state.ema, state.age))
    assert state.nbytes() == own


def hf_pooled(tower, pixels):
    native = pixels.shape[-1] == tower.native_image_size
    return tower.hf(pixel_values=pixels, interpolate_pos_encoding=not native).pooler_output


@pytest.mark.parametrize(
    "option",
    [
        {"stagger": True, "max_cache_age": 2},
        {"slow_ema_decay": 0.001, "ema_decay": 0.01},
        {"dilation": 1},
    ],
    ids=["stagger", "dual_rate", "dilation"],
)
def test_keep_all_with_each_option_equals_hf(option):
    tower = load_vision_model("tiny-siglip")
    arch = make_arch("C", tower, mode="budget", keep_fraction=1.0, **option)
    clip = moving_square_clip(frames=3, batch=2)
    state = arch.new_state(2)
    with torch.inference_mode():
        for frame in clip:
            out = arch(frame, state)
            assert out.keep_fraction.eq(1).all()
            diff = (out.embedding - hf_pooled(tower, frame)).abs().max().item()
            assert diff <= 1e-5, f"{option} differs from HF by {diff}"
