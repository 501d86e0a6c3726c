import pytest
import torch

from neuroflow.core.gate import RetinalGate
from neuroflow.core.schedules import Curriculum, Keyframes, TargetKeep, Warmup


def noisy_frames(frames, b=2, n=64, d=16, noise=0.3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(b, n, d, generator=gen)
    return [
        base + noise * torch.randn(b, n, d, generator=gen) * torch.rand(b, n, 1, generator=gen)
        for _ in range(frames)
    ]


def drive(schedule, gate, frames, state):
    schedule.begin_clip(state)
    outs = []
    for t, h in enumerate(frames):
        schedule.before_frame(t, state)
        out = gate.step(h, state)
        schedule.after_frame(t, out.keep_fraction, state)
        outs.append(out)
    return outs


def test_warmup_ramps_threshold():
    gate = RetinalGate(threshold=0.3, floor_tokens=0)
    state = gate.new_state(2)
    sched = Warmup(target=0.3, frames=4)
    seen = []
    for t in range(6):
        sched.before_frame(t, state)
        seen.append(round(float(state.threshold[0]), 4))
    assert seen == [0.0, 0.075, 0.15, 0.225, 0.3, 0.3]


def test_keyframes_force_dense_frames_without_resetting_ema():
    gate = RetinalGate(threshold=1.9, floor_tokens=0)
    state = gate.new_state(2)
    outs = drive(Keyframes(every=3), gate, noisy_frames(7), state)
    assert [bool(o.keep_mask.all()) for o in outs] == [True, False, False, True, False, False, True]
    assert [bool(o.first_frame.any()) for o in outs] == [True] + [False] * 6


def test_target_keep_controller_converges_per_stream():
    gate = RetinalGate(threshold=0.05, ema_decay=0.1, floor_tokens=0)
    state = gate.new_state(2)
    outs = drive(TargetKeep(target=0.2, initial=0.001), gate, noisy_frames(60), state)
    late = torch.stack([o.keep_fraction for o in outs[-20:]]).mean(0)
    assert torch.allclose(late, torch.full((2,), 0.2), atol=0.06)


def test_curriculum_samples_per_stream_within_bounds_and_is_seeded():
    gate = RetinalGate()
    a, b = gate.new_state(4), gate.new_state(4)
    Curriculum(threshold=(0.01, 0.3), ema_decay=(0.001, 0.1), seed=3).begin_clip(a)
    Curriculum(threshold=(0.01, 0.3), ema_decay=(0.001, 0.1), seed=3).begin_clip(b)
    assert torch.equal(a.threshold, b.threshold) and torch.equal(a.ema_decay, b.ema_decay)
    assert ((a.threshold >= 0.01) & (a.threshold <= 0.3)).all()
    assert len(set(a.threshold.tolist())) == 4


def test_bad_schedule_settings():
    with pytest.raises(ValueError, match="threshold"):
        Warmup(target=3.0, frames=2)
    with pytest.raises(ValueError, match="keyframe interval"):
        Keyframes(every=0)
    with pytest.raises(ValueError, match="target keep"):
        TargetKeep(target=1.5)
    with pytest.raises(ValueError, match="ema_decay"):
        Curriculum(ema_decay=(0.0, 0.1))
