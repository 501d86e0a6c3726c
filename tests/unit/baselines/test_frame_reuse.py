"""Whole-frame reuse: reuse on unchanged frames, dense otherwise, per-stream thresholds."""

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.baselines.frame_reuse import FrameReuse, FrameReuseState
from neuroflow.bench.flops import FlopBreakdown
from neuroflow.core.rows import split_state, stack_states


def run(arch, clip, state):
    """``[T, B, 3, H, W]`` through ``arch``; the outputs of every frame."""
    with torch.inference_mode():
        return [arch(frame, state) for frame in clip]


def dense_embeddings(tower, clip):
    dense = make_arch("dense", tower)
    return [out.embedding for out in run(dense, clip, dense.new_state(clip.shape[1]))]


def test_unchanged_frames_return_exactly_the_previous_embedding(tower, frames):
    arch = make_arch("frame_reuse", tower, threshold=0.05)
    static = frames[:1].expand(5, -1, -1, -1)[:, None]  # [T, 1, 3, H, W], one still frame
    outs = run(arch, static, arch.new_state(1))
    assert outs[0].keep_fraction.tolist() == [1.0] and outs[0].keep_mask.all()
    for out in outs[1:]:
        assert torch.equal(out.embedding, outs[0].embedding)
        assert out.keep_fraction.tolist() == [0.0] and not out.keep_mask.any()
        assert out.surprise.abs().max() == 0


def test_zero_threshold_recomputes_every_changing_frame_like_dense(tower, frames):
    arch = make_arch("frame_reuse", tower, threshold=0.0)
    clip = frames[:6, None]
    for out, ref in zip(
        run(arch, clip, arch.new_state(1)), dense_embeddings(tower, clip), strict=True
    ):
        assert out.keep_fraction.tolist() == [1.0]
        assert (out.embedding - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize(
    ("source", "settings"),
    [
        ("tiny-siglip", {"threshold": 2.0, "floor_tokens": 64}),
        ("tiny-clip", {"threshold": 2.0, "floor_tokens": 64}),
        ("tiny-vit", {"mode": "budget", "keep_fraction": 1.0}),
    ],
)
def test_a_gate_that_keeps_every_patch_is_exact(source, settings, frames):
    tower = load_vision_model(source)
    arch = make_arch("frame_reuse", tower, **settings)
    clip = frames[:4, None]
    for out, ref in zip(
        run(arch, clip, arch.new_state(1)), dense_embeddings(tower, clip), strict=True
    ):
        assert out.keep_fraction.tolist() == [1.0]
        assert torch.allclose(out.embedding, ref, atol=1e-5)


def test_a_big_change_after_static_frames_recomputes(tower, frames):
    arch = make_arch("frame_reuse", tower, threshold=0.05)
    changed = -frames[0]  # every patch changes
    clip = torch.stack([frames[0], frames[0], frames[0], changed])[:, None]
    outs = run(arch, clip, arch.new_state(1))
    assert [o.keep_fraction.item() for o in outs] == [1.0, 0.0, 0.0, 1.0]
    ref = dense_embeddings(tower, clip[3:])[0]
    assert torch.allclose(outs[3].embedding, ref, atol=1e-5)
    assert outs[3].surprise.mean() > 0.05


def test_each_stream_follows_its_own_threshold(tower, frames):
    arch = make_arch("frame_reuse", tower, threshold=0.0)
    state = arch.new_state(2)
    state.gate.set_threshold(2.0, streams=[1])  # stream 1 reuses whatever happens
    clip = frames[:5, None].expand(-1, 2, -1, -1, -1)
    outs = run(arch, clip, state)
    assert [o.keep_fraction.tolist() for o in outs] == [[1.0, 1.0]] + [[1.0, 0.0]] * 4
    assert all(torch.equal(o.embedding[1], outs[0].embedding[1]) for o in outs)


def test_keep_fraction_is_non_increasing_in_the_threshold(tower, frames):
    assert FrameReuse.calibrated == "threshold" and FrameReuse.keep_settings(0.5) == {}
    thresholds = torch.linspace(0.0, 0.15, 7)
    arch = make_arch("frame_reuse", tower)
    state = arch.new_state(7)
    state.gate.set_threshold(thresholds)  # one stream per threshold, one batched pass
    outs = run(arch, frames[:, None].expand(-1, 7, -1, -1, -1), state)
    keeps = torch.stack([o.keep_fraction for o in outs]).mean(dim=0).tolist()
    assert keeps == sorted(keeps, reverse=True)
    assert keeps[0] == 1.0 and keeps[-1] < 0.5  # the range spans real reuse


def test_streams_are_independent_of_the_batch(tower, frames):
    clip = torch.stack([frames[:6], frames.flip(0)[:6], frames[:1].expand(6, -1, -1, -1)], dim=1)
    arch = make_arch("frame_reuse", tower, threshold=0.07)
    batch = run(arch, clip, arch.new_state(3))
    for b in range(3):
        solo = run(arch, clip[:, b : b + 1], arch.new_state(1))
        for x, y in zip(batch, solo, strict=True):
            assert torch.equal(x.keep_fraction[b : b + 1], y.keep_fraction)
            assert torch.allclose(x.embedding[b : b + 1], y.embedding, atol=1e-6)


def test_reset_makes_the_next_frame_dense_for_that_stream(tower, frames):
    arch = make_arch("frame_reuse", tower, threshold=0.05)
    state = arch.new_state(2)
    static = frames[:1].expand(3, -1, -1, -1)[:, None].expand(-1, 2, -1, -1, -1)
    run(arch, static, state)
    state.reset(streams=[1])
    out = run(arch, static[:1], state)[0]
    assert out.keep_fraction.tolist() == [0.0, 1.0]
    assert state.nbytes() > 0 and state.previous.shape == (2, 32)


def test_states_stack_and_split_by_rows(tower, frames):
    arch = make_arch("frame_reuse", tower, threshold=0.05)
    moving, still = frames[:, None], frames[:1].expand(12, -1, -1, -1)[:, None]
    a, b, fresh = arch.new_state(1), arch.new_state(1), arch.new_state(1)
    run(arch, moving[:4], a)
    run(arch, still[:4], b)
    assert isinstance(stack_states([a, b, fresh]), FrameReuseState)
    stacked = stack_states([a, b, fresh])  # fresh: no embedding yet (a lazy row)
    assert stacked.previous.shape == (3, 32) and stacked.gate.threshold.shape == (3,)
    together = run(arch, torch.cat([moving[4:6], still[4:6], still[4:6]], dim=1), stacked)
    apart = [run(arch, clip[4:6], s) for clip, s in ((moving, a), (still, b), (still, fresh))]
    for t in range(2):
        for i in range(3):
            assert torch.equal(together[t].keep_fraction[i : i + 1], apart[i][t].keep_fraction)
            assert torch.allclose(together[t].embedding[i], apart[i][t].embedding[0], atol=1e-6)
    parts = split_state(stacked)
    assert [p.batch for p in parts] == [1, 1, 1]
    assert torch.equal(parts[1].previous, stacked.previous[1:2])


def test_settings_without_whole_frame_meaning_are_refused(tower):
    with pytest.raises(ValueError, match="global_motion_norm"):
        make_arch("frame_reuse", tower, global_motion_norm=True)
    with pytest.raises(ValueError, match="max_cache_age"):
        make_arch("frame_reuse", tower, max_cache_age=4)


def test_cost_model_is_patch_embed_plus_k_dense_frames():
    bd = FlopBreakdown(64, 1, 2, 32, 100.0, 10.0, 20.0, 0.5, 7.0, 3.0, 9.0, 4.0)
    dense = bd.block_cost(65, 2) + bd.head(65)
    assert FrameReuse.frame_flops(bd, 0.0) == pytest.approx(100.0)
    assert FrameReuse.frame_flops(bd, 1.0) == pytest.approx(bd.dense)
    assert FrameReuse.frame_flops(bd, 0.25) == pytest.approx(100.0 + 0.25 * dense)
    hf = FrameReuse.frame_flops(bd, 0.5, hf_head=True)
    assert hf == pytest.approx(100.0 + 0.5 * (bd.block_cost(65, 2) + bd.hf_head(65)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FrameReuse.frame_flops(bd, 1.5)
