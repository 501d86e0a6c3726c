"""Random-keep gate: counts, dense first frame, per-stream seeding, drop-in for Arch B/C."""

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.archs import ArchC
from neuroflow.baselines.random_keep import RandomKeepGate, random_keep_arch
from tests.helpers import moving_square_clip


def features(batch=3, n=64, d=8):
    return torch.randn(batch, n, d)


def test_first_frame_dense_then_fixed_count():
    gate = RandomKeepGate(keep_fraction=0.1, seed=1)
    state = gate.new_state(3)
    first = gate.step(features(), state)
    assert first.keep_mask.all() and first.first_frame.all()
    for _ in range(4):
        out = gate.step(features(), state)
        assert out.keep_mask.sum(1).tolist() == [7, 7, 7]  # ceil(0.1 * 64)
        assert not out.first_frame.any()
        assert (out.surprise == 0).all()
        torch.testing.assert_close(out.keep_fraction, torch.full((3,), 7 / 64))


def test_floor_and_counts_override():
    gate = RandomKeepGate(keep_fraction=0.01, floor_tokens=5)
    assert gate.count(64) == 5
    state = gate.new_state(2)
    gate.step(features(2), state)
    state.set_counts([0, 20])
    assert gate.step(features(2), state).keep_mask.sum(1).tolist() == [0, 20]
    state.set_counts(None)
    assert gate.step(features(2), state).keep_mask.sum(1).tolist() == [5, 5]
    with pytest.raises(ValueError, match="need 2 non-negative counts"):
        state.set_counts([1, 2, 3])


def test_streams_are_independent_of_batch_composition():
    gate = RandomKeepGate(keep_fraction=0.25, seed=3)
    solo, pair = gate.new_state(1), gate.new_state(2)
    solo.reseed([42])
    pair.reseed([7, 42])
    masks_solo, masks_pair = [], []
    for _ in range(5):
        masks_solo.append(gate.step(features(1), solo).keep_mask[0])
        masks_pair.append(gate.step(features(2), pair).keep_mask[1])
    assert all(torch.equal(a, b) for a, b in zip(masks_solo, masks_pair, strict=True))
    # Different streams draw different patches.
    gate.step(features(2), pair)
    out = gate.step(features(2), pair)
    assert not torch.equal(out.keep_mask[0], out.keep_mask[1])


def test_reset_makes_next_frame_dense_only_for_that_stream():
    gate = RandomKeepGate(keep_fraction=0.2)
    state = gate.new_state(3)
    gate.step(features(), state)
    state.reset(streams=[1])
    out = gate.step(features(), state)
    assert out.first_frame.tolist() == [False, True, False]
    assert out.keep_mask[1].all() and not out.keep_mask[0].all()
    with pytest.raises(IndexError):
        state.reset(streams=[5])


def test_bad_input_is_named():
    gate = RandomKeepGate(keep_fraction=0.2)
    with pytest.raises(ValueError, match="keep_fraction"):
        RandomKeepGate(keep_fraction=0.0)
    with pytest.raises(ValueError, match=r"\[B, N, D\]"):
        gate.step(torch.randn(2, 64), gate.new_state(2))
    with pytest.raises(ValueError, match="made for 3"):
        gate.step(features(2), gate.new_state(3))
    with pytest.raises(ValueError, match="'B' and 'C'"):
        random_keep_arch("A", load_vision_model("tiny-siglip"), 0.2)


def test_arch_c_with_full_random_keep_equals_dense():
    tower = load_vision_model("tiny-siglip")
    dense, rand = make_arch("dense", tower), random_keep_arch("C", tower, keep_fraction=1.0)
    clip = moving_square_clip(frames=4, batch=2)
    sd, sr = dense.new_state(2), rand.new_state(2)
    with torch.inference_mode():
        for frame in clip:
            torch.testing.assert_close(
                rand(frame, sr).embedding, dense(frame, sd).embedding, atol=1e-5, rtol=1e-5
            )


def test_random_c_shares_cache_and_encoder_with_arch_c():
    tower = load_vision_model("tiny-siglip")
    arch = random_keep_arch("C", tower, keep_fraction=0.25, seed=0)
    gated = make_arch("C", tower, mode="budget", keep_fraction=0.25)
    assert isinstance(arch, ArchC) and arch.tower is gated.tower
    state = arch.new_state(2)
    clip = moving_square_clip(frames=3, batch=2)
    with torch.inference_mode():
        outs = [arch(frame, state) for frame in clip]
    assert outs[0].keep_fraction.tolist() == [1.0, 1.0]
    assert outs[2].keep_mask.sum(1).tolist() == [16, 16]
    assert state.cache is not None and state.cache.shape[1] == 64
    assert state.nbytes() > 0


def test_non_integer_stream_index_is_refused_not_truncated():
    gate = RandomKeepGate(keep_fraction=0.1)
    state = gate.new_state(2)
    gate.step(features(2), state)
    with pytest.raises(ValueError, match="stream indices must be integers"):
        state.reset(streams=[0.5])
    with pytest.raises(ValueError, match="stream indices must be integers"):
        state.reseed([1], streams=[0.5])
    assert not state.fresh.any()


def test_a_floor_above_the_patch_count_is_refused_like_the_retinal_gate():
    gate = RandomKeepGate(0.2, floor_tokens=65)
    with pytest.raises(ValueError, match="floor_tokens=65"):
        gate.step(torch.zeros(1, 64, 8), gate.new_state(1))
