"""Eventful baseline: exact at threshold 0 / r = N, exact counts, reuse, batching, state, cost."""

from __future__ import annotations

import math

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.baselines.eventful import Eventful
from neuroflow.baselines.eventful_state import BUFFERS
from neuroflow.bench.flops import FlopBreakdown
from neuroflow.core.rows import split_state, stack_states

# Buffers each gate of a block may write (eventful.GATES order).
GATE_BUFFERS = (("x_ref", "qkv"), ("a_ref", "o"), ("h_ref", "m"))


def run_clip(model, clip, state=None):
    """Run ``[T, B, 3, H, W]`` frames; the outputs of every frame."""
    state = state if state is not None else model.new_state(clip.shape[1])
    with torch.inference_mode():
        return [model(frame, state) for frame in clip]


def two_streams(frames):
    """``[T, 2, ...]``: the moving clip and the same clip played backwards."""
    return torch.stack([frames, frames.flip(0)], dim=1)


def snapshot(state):
    return {name: getattr(state, name).clone() for name in BUFFERS}


@pytest.mark.parametrize("source", ["tiny-siglip", "tiny-vit"])
def test_threshold_zero_equals_dense(source, frames):
    tower = load_vision_model(source)
    model = make_arch("eventful", tower, policy="threshold", threshold=0.0)
    clip = two_streams(frames[:8])
    outs = run_clip(model, clip)
    dense = run_clip(make_arch("dense", tower), clip)
    for out, ref in zip(outs, dense, strict=True):
        assert (out.embedding - ref.embedding).abs().max().item() <= 1e-5
    # Unchanged background values were reused, not recomputed: the test exercises reuse.
    assert all(out.keep_fraction.lt(1).all() for out in outs[1:])
    assert outs[0].keep_fraction.eq(1).all()


def test_top_r_with_r_equal_n_equals_dense(frames):
    tower = load_vision_model("tiny-clip")
    outs = run_clip(make_arch("eventful", tower, keep_fraction=1.0), two_streams(frames[:5]))
    dense = run_clip(make_arch("dense", tower), two_streams(frames[:5]))
    for out, ref in zip(outs, dense, strict=True):
        assert (out.embedding - ref.embedding).abs().max().item() <= 1e-5
        assert out.keep_mask.all() and out.keep_fraction.eq(1).all()


@pytest.mark.parametrize("source", ["tiny-siglip", "tiny-vit"])
def test_top_r_recomputes_exactly_r_per_gate(source, frames):
    tower = load_vision_model(source)
    model = make_arch("eventful", tower, **Eventful.keep_settings(0.2))
    prefix, n = tower.num_prefix_tokens, 64
    r = math.ceil(0.2 * n)  # 13
    state = model.new_state(2)
    clip = two_streams(frames[:4])
    with torch.inference_mode():
        first = model.encode(tower.embed(clip[0]), state)
        assert first.selected.all()
        for frame in clip[1:]:
            emb = tower.embed(frame)
            run = model.encode(emb, state)
            assert run.selected[..., :prefix].all()  # class tokens always recomputed
            assert run.selected[..., prefix:].sum(-1).eq(r).all()  # every gate, every block
    out = run_clip(model, clip[:1], state)[0]  # one more frame through forward
    torch.testing.assert_close(out.keep_fraction, torch.full((2,), r / n))
    assert out.keep_mask.sum(1).tolist() == [r, r]


def test_static_clip_recomputes_nothing_after_the_first_frame(tower, frames):
    model = make_arch("eventful", tower, policy="threshold", threshold=0.01)
    clip = frames[3:4].expand(5, -1, -1, -1)[:, None]  # one frame, repeated
    outs = run_clip(model, clip)
    assert outs[0].keep_fraction.eq(1).all()
    for out in outs[1:]:
        assert out.keep_fraction.eq(0).all() and not out.keep_mask.any()
        assert torch.equal(out.embedding, outs[0].embedding)


@pytest.mark.parametrize("source", ["tiny-siglip", "tiny-vit"])
def test_large_threshold_reuses_everything(source, frames):
    tower = load_vision_model(source)
    model = make_arch("eventful", tower, policy="threshold", threshold=1e6)
    prefix = tower.num_prefix_tokens
    state = model.new_state(1)
    with torch.inference_mode():
        first = model.encode(tower.embed(frames[:1]), state)
        before = snapshot(state)
        run = model.encode(tower.embed(frames[6:7]), state)  # the block has moved
    assert not run.selected[..., prefix:].any()
    # Every patch's block outputs and caches are the stored ones: nothing moved.
    assert torch.equal(run.hidden[:, prefix:], first.hidden[:, prefix:])
    for name, old in before.items():
        assert torch.equal(getattr(state, name)[:, :, prefix:], old[:, :, prefix:]), name


def test_threshold_batch_is_independent_and_padding_never_writes(tower, frames):
    """A stream alone equals it next to a very different stream; unselected rows (padding
    included) keep their cached values bit for bit."""
    model = make_arch("eventful", tower, policy="threshold", threshold=0.05)
    gen = torch.Generator().manual_seed(1)
    # Stream 0 barely changes (small noise: nonzero errors under the threshold, so a padded
    # row written with its current value would show); stream 1 has the moving block.
    still = frames[:1] + 0.002 * torch.randn(6, 1, 3, 32, 32, generator=gen)
    pair = torch.cat([still, frames[:6, None]], dim=1)
    solo = model.new_state(1)
    both = model.new_state(2)
    with torch.inference_mode():
        for t in range(6):
            alone = model.encode(tower.embed(still[t]), solo)
            before = snapshot(both) if t else {}
            batched = model.encode(tower.embed(pair[t]), both)
            torch.testing.assert_close(batched.hidden[:1], alone.hidden, atol=1e-5, rtol=0)
            assert torch.equal(batched.selected[:1], alone.selected)
            if t == 0:
                continue
            counts = batched.selected.sum(-1)  # [B, L, 3]
            assert (counts[0] < counts[1]).all()  # stream 0 is padded at every gate
            for g, names in enumerate(GATE_BUFFERS):
                kept = ~batched.selected[:, :, g].transpose(0, 1)  # [L, B, T] unselected
                for name in names:
                    now, old = getattr(both, name), before[name]
                    assert torch.equal(now[kept], old[kept]), (t, name)


def test_top_r_batch_is_independent(tower, frames):
    model = make_arch("eventful", tower, keep_fraction=0.3)
    clip = two_streams(frames[:5])
    alone = run_clip(model, clip[:, 1:])
    batched = run_clip(model, clip)
    for a, b in zip(alone, batched, strict=True):
        torch.testing.assert_close(b.embedding[1:], a.embedding, atol=1e-5, rtol=0)
        assert torch.equal(b.keep_mask[1:], a.keep_mask)


def test_reset_of_one_stream_makes_its_next_frame_dense(tower, frames):
    model = make_arch("eventful", tower, keep_fraction=0.25)
    clip = two_streams(frames[:5])
    state = model.new_state(2)
    run_clip(model, clip[:4], state)
    state.reset([1])
    out = run_clip(model, clip[4:], state)[0]
    assert out.keep_fraction.tolist() == [0.25, 1.0]
    dense = run_clip(make_arch("dense", tower), clip[4:])[0]
    torch.testing.assert_close(out.embedding[1], dense.embedding[1], atol=1e-5, rtol=0)
    assert not torch.allclose(out.embedding[0], dense.embedding[0], atol=1e-5)


def test_grid_change_resets_with_a_warning(tower, frames):
    model = make_arch("eventful", tower, keep_fraction=0.25)
    state = model.new_state(1)
    run_clip(model, frames[:2, None], state)
    bigger = torch.nn.functional.interpolate(frames[2:3], size=48)
    with pytest.warns(RuntimeWarning, match="grid changed"):
        out = run_clip(model, bigger[:, None], state)[0]
    assert out.keep_fraction.eq(1).all()


def test_state_stacks_and_splits(tower, frames):
    model = make_arch("eventful", tower, policy="threshold", threshold=0.02)
    clip = two_streams(frames[:5])
    separate = [model.new_state(1), model.new_state(1)]
    for b in range(2):
        run_clip(model, clip[:3, b : b + 1], separate[b])
    stacked = stack_states(separate)
    reference = model.new_state(2)
    run_clip(model, clip[:3], reference)
    out = run_clip(model, clip[3:4], stacked)[0]
    expected = run_clip(model, clip[3:4], reference)[0]
    torch.testing.assert_close(out.embedding, expected.embedding, atol=1e-5, rtol=0)
    assert out.keep_fraction.lt(1).all()  # the stacked state kept its references
    parts = split_state(stacked)
    both = run_clip(model, clip[4:5], reference)[0]
    for b, part in enumerate(parts):
        one = run_clip(model, clip[4:5, b : b + 1], part)[0]
        torch.testing.assert_close(one.embedding[0], both.embedding[b], atol=1e-5, rtol=0)
    # A stream that has seen no frame stacks as zeros and runs dense.
    mixed = stack_states([parts[0], model.new_state(1)])
    assert run_clip(model, clip[:1], mixed)[0].keep_fraction.tolist()[1] == 1.0


def test_nbytes_counts_every_cache(tower, frames):
    model = make_arch("eventful", tower)
    state = model.new_state(2)
    run_clip(model, frames[:1, None].expand(1, 2, -1, -1, -1), state)
    layers, tokens, dim = len(tower.blocks), 64, tower.hidden_size
    assert state.nbytes() == 8 * layers * 2 * tokens * dim * 4 + 2  # fp32 buffers + flags


def test_settings_are_checked_and_routed_to_the_method(tower):
    model = make_arch("eventful", tower, policy="threshold", threshold=0.1)
    assert model.threshold == 0.1 and model.gate is None and not Eventful.uses_gate
    assert Eventful.keep_settings(0.3) == {"policy": "top_r", "keep_fraction": 0.3}
    with pytest.raises(ValueError, match="keep fraction"):
        Eventful.keep_settings(0.0)
    with pytest.raises(ValueError, match="policy"):
        make_arch("eventful", tower, policy="always")
    with pytest.raises(ValueError, match="threshold"):
        make_arch("eventful", tower, threshold=-1.0)
    with pytest.raises(ValueError, match="keep_fraction"):
        make_arch("eventful", tower, keep_fraction=1.5)


def test_cost_model():
    bd = FlopBreakdown(
        num_patches=16, num_prefix=1, layers=2, hidden_size=8, patch_embed=100.0,
        attn_linear=40.0, mlp=80.0, attention=3.0, head_fixed=10.0, head_per_token=2.0,
    )  # fmt: skip
    t = bd.tokens
    assert Eventful.encoder_flops(bd, t) == pytest.approx(bd.block_cost(t, bd.layers))
    assert Eventful.frame_flops(bd, 1.0) == pytest.approx(bd.dense)
    costs = [Eventful.frame_flops(bd, k) for k in (0.1, 0.5, 1.0)]
    assert costs[0] < costs[1] < costs[2]
    # At k = 0 only class tokens run the linear layers; attention and head stay dense.
    bare = bd.patch_embed + (bd.attn_linear + bd.mlp) * 1 + bd.attention * t * t + bd.head(t)
    assert Eventful.frame_flops(bd, 0.0) == pytest.approx(bare)
