"""StreamEngine: packed streams equal each stream alone; per-stream settings; bad input."""

from __future__ import annotations

import pytest
import torch

from neuroflow.archs import make_arch
from neuroflow.core.schedules import TargetKeep
from neuroflow.stream import StreamEngine


def stream_frames(seed: int, count: int = 10, size: int = 32) -> list[torch.Tensor]:
    """A random background with a block moving at a seed-dependent speed and size."""
    gen = torch.Generator().manual_seed(seed)
    background = torch.rand(3, size, size, generator=gen) * 2 - 1
    side, speed = 4 + 4 * (seed % 3), 1 + seed % 4
    out = []
    for t in range(count):
        frame = background.clone()
        left = (speed * t) % (size - side)
        frame[:, 4 : 4 + side, left : left + side] = 0.9
        out.append(frame)
    return out


# tick -> {stream: frame index}; b joins at 2 and skips 5, c leaves after 6, d joins at 4 and
# is reset before tick 7: every tick packs a different set with different active counts.
PLAN = {
    "a": range(10),
    "b": [2, 3, 4, 6, 7, 8, 9],
    "c": range(7),
    "d": range(4, 10),
}
RESET = {"d": 7}
THRESHOLD = {"a": 0.02, "b": 0.05, "c": 0.01, "d": 0.03}


def run_engine(arch):
    engine = StreamEngine(arch)
    frames = {name: stream_frames(seed) for seed, name in enumerate(PLAN)}
    outputs = {name: [] for name in PLAN}
    for t in range(10):
        for name, ticks in PLAN.items():
            if t == ticks[0]:
                engine.add_stream(name, threshold=THRESHOLD[name])
        if t == 7:
            engine.remove_stream("c")
        for name, at in RESET.items():
            if t == at:
                engine.reset_stream(name)
        tick = {n: frames[n][t] for n, ticks in PLAN.items() if t in ticks}
        for name, result in engine.tick(tick).items():
            outputs[name].append(result)
    return engine, frames, outputs


def run_alone(arch, frames, name):
    state = arch.new_state(1)
    state.gate.set_threshold(THRESHOLD[name])
    out = []
    with torch.inference_mode():
        for t in PLAN[name]:
            if RESET.get(name) == t:
                state.reset()
            out.append(arch(frames[name][t][None], state))
    return out


@pytest.mark.parametrize("method", ["B", "C", "D"])
def test_packed_streams_equal_each_stream_alone(tower, method):
    arch = make_arch(method, tower, threshold=0.02, floor_tokens=1)
    engine, frames, outputs = run_engine(arch)
    kept = set()
    for name in PLAN:
        alone = run_alone(arch, frames, name)
        assert len(alone) == len(outputs[name])
        for ref, got in zip(alone, outputs[name], strict=True):
            assert torch.equal(ref.keep_mask[0], got.keep_mask)
            assert (ref.embedding[0] - got.embedding).abs().max() <= 1e-5
            kept.add(int(got.keep_mask.sum()))
    assert len(kept) > 3  # the streams really kept different numbers of patches
    assert engine.streams == ["a", "b", "d"]
    assert engine.stats()["d"].resets == 1
    assert outputs["d"][3].first_frame and not outputs["d"][2].first_frame


def test_keep_target_holds_per_stream_and_matches_the_schedule(tower):
    arch = make_arch("C", tower, threshold=0.1, floor_tokens=0)
    engine = StreamEngine(arch, gain=0.5)
    targets = {"low": 0.2, "high": 0.6}
    for name, target in targets.items():
        engine.add_stream(name, target_keep=target)
    gen = torch.Generator().manual_seed(1)
    clip = [torch.rand(3, 32, 32, generator=gen) * 2 - 1 for _ in range(40)]
    kept = {name: [] for name in targets}
    for frame in clip:
        for name, result in engine.tick({n: frame for n in targets}).items():
            kept[name].append(result.keep_fraction)
    for name, target in targets.items():
        assert abs(sum(kept[name][-20:]) / 20 - target) < 0.06
    # The engine's controller is the TargetKeep schedule's step, stream by stream.
    schedule, state = TargetKeep(targets["low"], initial=0.1, gain=0.5), arch.new_state(1)
    with torch.inference_mode():
        for t, frame in enumerate(clip):
            out = arch(frame[None], state)
            schedule.after_frame(t, out.keep_fraction, state.gate)
            assert float(out.keep_fraction[0]) == pytest.approx(kept["low"][t])


def test_bad_input_is_refused_before_any_state_changes(tower):
    arch = make_arch("C", tower, threshold=0.02)
    engine = StreamEngine(arch)
    engine.add_stream("a")
    engine.add_stream("b")
    frames = stream_frames(0)
    engine.tick({"a": frames[0], "b": frames[0]})
    with pytest.raises(ValueError, match="at least one frame"):
        engine.tick({})
    with pytest.raises(ValueError, match=r"unknown stream\(s\) \['zz'\].*'a', 'b'"):
        engine.tick({"a": frames[1], "zz": frames[1]})
    with pytest.raises(ValueError, match="stream 'b': frame is \\(3, 16, 16\\)"):
        engine.tick({"a": frames[1], "b": frames[1][:, :16, :16]})
    nan = frames[1].clone()
    nan[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"\['b'\]: frame contains NaN"):
        engine.tick({"a": frames[1], "b": nan})
    with pytest.raises(ValueError, match="stream 'a': frames must be floating point"):
        engine.tick({"a": (frames[1] * 100).to(torch.uint8)})
    with pytest.raises(ValueError, match="already exists"):
        engine.add_stream("a")
    # Nothing above touched a stream: both go on exactly like a stream never disturbed.
    out = engine.tick({"a": frames[1], "b": frames[1]})
    state = arch.new_state(1)
    with torch.inference_mode():
        arch(frames[0][None], state)
        ref = arch(frames[1][None], state)
    for name in "ab":
        assert (out[name].embedding - ref.embedding[0]).abs().max() <= 1e-5
        assert engine.stats()[name].frames == 2


def test_settings_the_gate_cannot_take_are_refused(tower):
    budget = StreamEngine(make_arch("C", tower, mode="budget", keep_fraction=0.3))
    with pytest.raises(ValueError, match="budget-mode gate"):
        budget.add_stream("a", target_keep=0.2)
    dense = StreamEngine(make_arch("dense", tower))
    with pytest.raises(ValueError, match="has no gate"):
        dense.add_stream("a", threshold=0.1)
    dense.add_stream("a")
    out = dense.tick({"a": stream_frames(0)[0]})["a"]
    assert out.keep_fraction == 1.0 and out.grid == (8, 8)


def test_statistics_and_state_bytes(tower):
    engine = StreamEngine(make_arch("C", tower, threshold=0.02))
    engine.add_stream("a")
    frames = stream_frames(2)
    for frame in frames[:5]:
        result = engine.tick({"a": frame})["a"]
    stats = engine.stats()["a"]
    assert stats.frames == 5 and stats.total_tokens == 5 * 64
    assert stats.recomputed_tokens == stats.steady_recomputed + 64  # the first frame is dense
    assert stats.time_share == pytest.approx(1.0)
    assert result.grid == (8, 8) and result.frame == 4
    one = engine.state_bytes("a")
    engine.add_stream("b")
    engine.tick({"a": frames[5], "b": frames[5]})
    assert engine.state_bytes("b") == one  # linear in streams: each holds the same rows


def test_engine_runs_in_bfloat16_like_each_stream_alone(tower):
    arch = make_arch("C", tower.to(torch.bfloat16), threshold=0.02, floor_tokens=1)
    engine = StreamEngine(arch)
    clips = {name: stream_frames(seed) for seed, name in enumerate("ab")}
    for name in clips:
        engine.add_stream(name)
    for t in range(4):
        out = engine.tick({n: clip[t] for n, clip in clips.items()})  # fp32 frames: cast inside
    for name, clip in clips.items():
        state = arch.new_state(1)
        with torch.inference_mode():
            for frame in clip[:4]:
                ref = arch(frame[None].to(torch.bfloat16), state)
        assert out[name].embedding.dtype == torch.bfloat16
        assert torch.equal(out[name].keep_mask, ref.keep_mask[0])
        assert (out[name].embedding.float() - ref.embedding[0].float()).abs().max() <= 2e-2
