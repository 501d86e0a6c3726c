import pytest
import torch

from neuroflow.core.gate import GateConfig, RetinalGate


def features(b=2, n=16, d=8, seed=0):
    return torch.randn(b, n, d, generator=torch.Generator().manual_seed(seed))


def test_first_frame_dense_then_static_patches_skipped():
    gate = RetinalGate(threshold=0.1, ema_decay=0.5, floor_tokens=0)
    state = gate.new_state(2)
    h = features()
    first = gate.step(h, state)
    assert first.keep_mask.all() and first.first_frame.all()
    second = gate.step(h, state)  # nothing changed
    assert not second.keep_mask.any()
    assert torch.allclose(second.surprise, torch.zeros_like(second.surprise), atol=1e-6)


def test_surprise_is_one_minus_cosine_against_ema_and_ema_updates_all_patches():
    gate = RetinalGate(threshold=0.0, ema_decay=0.25, floor_tokens=0)
    state = gate.new_state(1)
    h0, h1 = features(1, seed=1), features(1, seed=2)
    gate.step(h0, state)
    out = gate.step(h1, state)
    expected = 1 - torch.nn.functional.cosine_similarity(h1, h0, dim=-1)
    assert torch.allclose(out.surprise, expected, atol=1e-6)
    assert torch.allclose(state.ema, 0.75 * h0 + 0.25 * h1, atol=1e-6)


def test_strict_threshold_and_floor_of_most_surprising():
    gate = RetinalGate(threshold=0.5, ema_decay=1.0, floor_tokens=3)
    state = gate.new_state(1)
    base = features(1, n=10)
    gate.step(base, state)
    moved = base.clone()
    moved[0, 7] = -base[0, 7]  # surprise 2 on patch 7 only
    moved[0, 2] = base[0, 2] + 0.3 * torch.randn(8)  # a little surprise on patch 2
    out = gate.step(moved, state)
    assert out.keep_mask.sum() == 3  # floor fills up to three
    assert out.keep_mask[0, 7] and out.keep_mask[0, 2]


def test_budget_mode_keeps_equal_counts_per_stream():
    gate = RetinalGate(mode="budget", keep_fraction=0.25, floor_tokens=1)
    state = gate.new_state(3)
    gate.step(features(3, seed=0), state)
    out = gate.step(features(3, seed=1), state)
    assert out.keep_mask.sum(dim=1).tolist() == [4, 4, 4]
    assert torch.allclose(out.keep_fraction, torch.full((3,), 0.25))


def test_reset_selected_stream_only():
    gate = RetinalGate(threshold=0.1, ema_decay=0.5, floor_tokens=0)
    state = gate.new_state(3)
    h = features(3)
    gate.step(h, state)
    state.reset(streams=[1])
    out = gate.step(h, state)
    assert out.keep_mask[1].all() and not out.keep_mask[0].any() and not out.keep_mask[2].any()
    assert out.first_frame.tolist() == [False, True, False]


def test_auto_reset_with_warning_when_token_count_changes():
    gate = RetinalGate(threshold=0.1, floor_tokens=0)
    state = gate.new_state(2)
    gate.step(features(2, n=16), state)
    gate.step(features(2, n=16), state)
    with pytest.warns(RuntimeWarning, match="token count changed"):
        out = gate.step(features(2, n=25), state)
    assert out.keep_mask.all() and out.keep_mask.shape == (2, 25)


def test_streams_are_independent_batched_equals_one_by_one():
    gate = RetinalGate(threshold=0.05, ema_decay=0.3, floor_tokens=2)
    frames = [features(3, seed=s) for s in range(4)]
    batched = gate.new_state(3)
    singles = [gate.new_state(1) for _ in range(3)]
    for h in frames:
        together = gate.step(h, batched)
        for b in range(3):
            alone = gate.step(h[b : b + 1], singles[b])
            assert torch.equal(alone.keep_mask[0], together.keep_mask[b])
            assert torch.allclose(alone.surprise[0], together.surprise[b])


def test_per_stream_threshold():
    gate = RetinalGate(threshold=0.0, ema_decay=1.0, floor_tokens=0)
    state = gate.new_state(2)
    gate.step(features(2, seed=0), state)
    state.set_threshold(2.0, streams=[1])
    out = gate.step(features(2, seed=1), state)
    assert out.keep_mask[0].any() and not out.keep_mask[1].any()


def test_global_motion_norm_removes_uniform_change():
    gate = RetinalGate(threshold=0.05, ema_decay=1.0, floor_tokens=0, global_motion_norm=True)
    plain = RetinalGate(threshold=0.05, ema_decay=1.0, floor_tokens=0)
    h0 = features(1, n=16)
    rot = h0 + 1.0  # every patch changes alike
    for g in (gate, plain):
        st = g.new_state(1)
        g.step(h0, st)
        out = g.step(rot, st)
        if g is plain:
            assert out.keep_mask.sum() > 8
        else:
            assert out.surprise.mean().abs() < 1e-6


def test_max_cache_age_forces_refresh():
    gate = RetinalGate(threshold=1.5, ema_decay=0.5, floor_tokens=0, max_cache_age=3)
    state = gate.new_state(1)
    h = features(1, n=4)
    kept = [gate.step(h, state).keep_mask.all().item() for _ in range(7)]
    assert kept == [True, False, False, True, False, False, True]


def test_patch_signal_option_is_validated():
    with pytest.raises(ValueError, match="signal"):
        GateConfig(signal="pixel")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": 2.5}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"ema_decay": 0.0}, "ema_decay"),
        ({"ema_decay": 1.5}, "ema_decay"),
        ({"keep_fraction": 0.0}, "keep_fraction"),
        ({"floor_tokens": -1}, "floor_tokens"),
        ({"mode": "topk"}, "mode"),
        ({"max_cache_age": 0}, "max_cache_age"),
    ],
)
def test_bad_config_raises_naming_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GateConfig(**kwargs)


def test_batch_mismatch_and_bad_stream_index():
    gate = RetinalGate()
    state = gate.new_state(2)
    with pytest.raises(ValueError, match="state was created for 2"):
        gate.step(features(3), state)
    with pytest.raises(IndexError):
        state.reset(streams=[5])
    with pytest.raises(ValueError, match="threshold"):
        state.set_threshold(3.0)
