"""Pixel-difference gate: drops static patches, references, normalisation, modes, exactness."""

import math

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.archs import get_method
from neuroflow.baselines.pixel_gate import PixelC, PixelGate, pixel_difference
from neuroflow.core.gate import GateConfig, RetinalGate
from neuroflow.core.rows import stack_states
from neuroflow.core.schedules import Warmup
from tests.helpers import (
    assert_equals_dense_when_keeping_all,
    changed_patches,
    moving_square_clip,
)


def pixel_gate(reference="previous", normalise="absolute", **settings):
    config = GateConfig(signal="pixels", **{"floor_tokens": 0, **settings})
    return PixelGate(config, reference=reference, normalise=normalise)


def step_values(gate, values, state=None):
    """Scores of a clip of one stream with 2 patches of 3 pixels: patch 0 takes ``values``."""
    state = state if state is not None else gate.new_state(1)
    scores = []
    for v in values:
        x = torch.tensor([[[v, v, v], [0.5, 0.5, 0.5]]])
        scores.append(gate.step(x, state).surprise[0])
    return torch.stack(scores)


def test_static_patches_are_dropped_and_the_moving_block_kept(tower, frames):
    arch = make_arch("pixel_C", tower, threshold=1e-3, floor_tokens=0)
    state = arch.new_state(1)
    with torch.inference_mode():
        masks = [arch(frame[None], state).keep_mask for frame in frames]
    assert masks[0].all()
    for t in range(1, len(frames)):
        moved = changed_patches(frames[t - 1 : t], frames[t : t + 1], patch=4)
        assert moved.any() and not moved.all()
        assert torch.equal(masks[t], moved), f"frame {t}"


def test_previous_and_ema_references_differ_as_expected():
    step = [0.0, 0.0, 1.0, 1.0, 1.0]  # patch 0 jumps once and stays; patch 1 never moves
    prev = step_values(pixel_gate("previous"), step)
    ema = step_values(pixel_gate("ema", ema_decay=0.5), step)
    expected_prev = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0])  # first frame: dense, score 0
    expected_ema = torch.tensor([0.0, 0.0, 1.0, 0.5, 0.25])  # the EMA closes half the gap
    torch.testing.assert_close(prev[:, 0], expected_prev, rtol=0, atol=1e-7)
    torch.testing.assert_close(ema[:, 0], expected_ema, rtol=0, atol=1e-7)
    assert (prev[:, 1] == 0).all() and (ema[:, 1] == 0).all()
    # A flicker: against the previous frame every frame changes fully, against a slow EMA
    # the score settles near the mean distance (0.5).
    flicker = [0.0, 1.0] * 20
    assert (step_values(pixel_gate("previous"), flicker)[1:, 0] == 1).all()
    slow = step_values(pixel_gate("ema", ema_decay=0.05), flicker)[-4:, 0]
    assert ((slow - 0.5).abs() < 0.1).all()


def test_previous_reference_ignores_a_schedules_ema_decay():
    gate = pixel_gate("previous")
    state = gate.new_state(1)
    state.set_ema_decay(0.1)
    scores = step_values(gate, [0.0, 1.0, 1.0], state)
    assert scores[2, 0] == 0  # compared with the last frame, not an EMA


def test_frame_max_puts_the_top_patch_at_one(tower, frames):
    gate = pixel_gate(normalise="frame_max")
    feats = tower.embed(frames[:4]).gate_features("pixels")
    state = gate.new_state(1)
    for t in range(4):
        out = gate.step(feats[t : t + 1], state)
    assert out.surprise.max().item() == 1.0
    assert (out.surprise >= 0).all() and (out.surprise <= 1).all()
    # A frame with no change scores 0 everywhere, not NaN.
    assert (gate.step(feats[3:4], state).surprise == 0).all()


def test_budget_mode_keeps_exactly_the_count_of_top_scores(tower, frames):
    feats = tower.embed(frames[:5]).gate_features("pixels")
    for k in (0.1, 0.2, 0.35, 0.5):
        gate = PixelGate.from_config(GateConfig(mode="budget", keep_fraction=k, floor_tokens=0))
        state = gate.new_state(1)
        outs = [gate.step(feats[t : t + 1], state) for t in range(5)]
        for out in outs[1:]:
            assert out.keep_mask.sum().item() == math.ceil(k * 64 - 1e-9)
            kept, dropped = out.surprise[out.keep_mask], out.surprise[~out.keep_mask]
            assert kept.min() >= dropped.max()


def test_per_stream_thresholds_and_schedules(tower):
    arch = make_arch("pixel_C", tower, threshold=0.0, floor_tokens=0)
    clip = moving_square_clip(frames=4, batch=2)
    state = arch.new_state(2)
    state.gate.set_threshold(torch.tensor([0.0, 2.0]))
    with torch.inference_mode():
        outs = [arch(frame, state) for frame in clip]
    for out, prev, cur in zip(outs[1:], clip[:-1], clip[1:], strict=True):
        assert torch.equal(out.keep_mask[0], changed_patches(prev, cur, 4)[0])
        assert not out.keep_mask[1].any()  # no mean |diff| exceeds 2 here
    warm = Warmup(target=2.0, frames=1)  # a schedule drives the state like the retinal gate's
    warm.before_frame(1, state.gate)
    assert state.gate.threshold.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("source", ["tiny-siglip", "tiny-clip"])
def test_threshold_zero_on_a_noisy_clip_keeps_all_and_equals_dense(source):
    tower = load_vision_model(source)
    pixel = make_arch("pixel_C", tower, threshold=0.0, floor_tokens=0, reference="ema")
    clip = torch.rand(4, 2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert_equals_dense_when_keeping_all(pixel, tower, clip)


def test_surprise_is_the_score_and_streams_are_independent(tower):
    arch = make_arch("pixel_C", tower, normalise="frame_max", threshold=0.3, floor_tokens=0)
    clip = moving_square_clip(frames=3, batch=3)
    both, solo = arch.new_state(3), arch.new_state(1)
    with torch.inference_mode():
        for frame in clip:
            out, one = arch(frame, both), arch(frame[1:2], solo)
            assert torch.equal(out.keep_mask[1], one.keep_mask[0])
            torch.testing.assert_close(out.embedding[1], one.embedding[0], atol=1e-6, rtol=0)
    before, last = (tower.embed(clip[t]).gate_features("pixels") for t in (1, 2))
    raw = pixel_difference(last, before)
    torch.testing.assert_close(out.surprise, raw / raw.amax(1, keepdim=True))


def test_state_stacks_via_rows(tower):
    arch = make_arch("pixel_C", tower, reference="ema", ema_decay=0.3, threshold=0.05)
    clip = moving_square_clip(frames=5, batch=2)
    batch, a, b = arch.new_state(2), arch.new_state(1), arch.new_state(1)
    with torch.inference_mode():
        for frame in clip[:2]:
            ref = arch(frame, batch)
            arch(frame[:1], a), arch(frame[1:], b)
        stacked = stack_states([a, b])
        for frame in clip[2:]:
            ref, out = arch(frame, batch), arch(frame, stacked)
            assert torch.equal(out.keep_mask, ref.keep_mask)
            torch.testing.assert_close(out.embedding, ref.embedding, atol=1e-6, rtol=0)


def test_keep_settings_run_pixel_c_at_k(tower, frames):
    arch = make_arch("pixel_C", tower, **get_method("pixel_C").keep_settings(0.2))
    state = arch.new_state(1)
    with torch.inference_mode():
        outs = [arch(frame[None], state) for frame in frames[:4]]
    assert [o.keep_mask.sum().item() for o in outs] == [64, 13, 13, 13]  # ceil(0.2 * 64)


def test_settings_go_to_a_configured_copy_of_the_gate(tower):
    arch = make_arch("pixel_C", tower, reference="ema", normalise="frame_max", threshold=0.05)
    assert isinstance(arch, PixelC) and (arch.reference, arch.normalise) == ("ema", "frame_max")
    assert arch.gate.config.signal == "pixels" and arch.gate.config.threshold == 0.05
    mine = PixelGate(GateConfig(signal="pixels"), reference="previous")
    built = make_arch("pixel_C", tower, gate=mine, reference="ema")
    assert built.gate is not mine and built.reference == "ema" and mine.reference == "previous"
    assert make_arch("pixel_C", tower, gate=PixelGate(reference="ema")).reference == "ema"
    assert PixelGate.from_config(GateConfig(signal="embedding")).config.signal == "pixels"


def test_bad_settings_are_named(tower):
    with pytest.raises(ValueError, match="needs signal='pixels', got signal='embedding'"):
        PixelGate(GateConfig())
    with pytest.raises(ValueError, match="reference must be one of"):
        PixelGate(reference="first")
    with pytest.raises(ValueError, match="normalise must be one of"):
        make_arch("pixel_C", tower, normalise="max")
    with pytest.raises(TypeError, match="needs a PixelGate"):
        make_arch("pixel_C", tower, gate=RetinalGate(signal="pixels"))
    with pytest.raises(ValueError, match=r"\[B, N, D\]"):
        PixelGate().step(torch.zeros(2, 48), PixelGate().new_state(2))
