"""Arch E (context cache): active tokens attend over every token's cached keys and values."""

from __future__ import annotations

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.archs.context import ArchE, ContextState, context_bytes
from neuroflow.archs.pruned import ArchC
from neuroflow.bench.flops import FlopBreakdown, measure_breakdown
from neuroflow.bench.measure import count_method_flops
from neuroflow.bench.methods import ArchMethod
from neuroflow.core.rows import split_state, stack_states
from tests.helpers import moving_square_clip

BUDGET = {"mode": "budget", "keep_fraction": 0.25}
# SigLIP has no class token: with no floor a static stream keeps nothing (an empty segment).
THRESHOLD = {"threshold": 0.05, "ema_decay": 0.3, "floor_tokens": 0}


@pytest.fixture(scope="module", params=["tiny-siglip", "tiny-vit"])
def tower(request):
    return load_vision_model(request.param)


def uneven_clip(frames: int = 4) -> torch.Tensor:
    """``[T, 3, 3, 32, 32]``: a static stream, then two with a moving square (ragged counts)."""
    clip = moving_square_clip(frames=frames, batch=3, seed=2)
    clip[:, 0] = clip[0, 0]
    return clip


def run(model, clip, state=None):
    state = model.new_state(clip.shape[1]) if state is None else state
    with torch.inference_mode():
        return [model(frame, state) for frame in clip], state


def reference_e(tower, clip, keeps):
    """Slow Arch E, one stream at a time: every token runs every block on full-size tensors
    with explicit attention over an explicit K/V cache; only the kept tokens (class tokens
    always) store their keys, values and final outputs."""
    layers, prefix = len(tower.blocks), tower.num_prefix_tokens
    pooled = torch.zeros(len(clip), clip.shape[1], tower.hidden_size)
    with torch.inference_mode():
        for b in range(clip.shape[1]):
            kv = cortical = None
            for t, frame in enumerate(clip):
                x = tower.embed(frame[b : b + 1]).tokens[0]
                active = torch.cat([torch.ones(prefix, dtype=torch.bool), keeps[t][b]])
                if kv is None:
                    kv, cortical = x.new_zeros(layers, 2, *x.shape), torch.zeros_like(x)
                for layer, block in enumerate(tower.blocks):
                    h = block.ln1(x)
                    kv[layer, 0, active] = block.k_proj(h)[active]
                    kv[layer, 1, active] = block.v_proj(h)[active]
                    q, k, v = (y.view(len(x), block.num_heads, -1).transpose(0, 1)
                               for y in (block.q_proj(h), kv[layer, 0], kv[layer, 1]))  # fmt: skip
                    weights = (q @ k.transpose(1, 2) * block.scale).softmax(-1)
                    x = x + block.out_proj((weights @ v).transpose(0, 1).reshape(x.shape))
                    x = x + block.mlp(block.ln2(x))
                cortical[active] = x[active]
                pooled[t, b] = tower.pool(cortical[None])[0]
    return pooled


@pytest.mark.parametrize("settings", [BUDGET, THRESHOLD], ids=["budget", "threshold"])
def test_sparse_frames_equal_a_slow_reference_and_differ_from_c(tower, settings):
    clip = uneven_clip()
    outs, _ = run(make_arch("E", tower, **settings), clip)
    keeps = [o.keep_mask for o in outs]
    assert all(k.all() for k in keeps[0]) and not any(k.all() for k in keeps[1:])
    if settings is THRESHOLD:  # ragged: streams keep different counts, the static one none
        assert len(set(keeps[1].sum(1).tolist())) > 1 and keeps[1][0].sum() == 0
    expected = reference_e(tower, clip, keeps)
    for t, out in enumerate(outs):
        torch.testing.assert_close(out.embedding, expected[t], atol=1e-5, rtol=0)
    arch_c, _ = run(make_arch("C", tower, **settings), clip)
    torch.testing.assert_close(arch_c[0].embedding, outs[0].embedding, atol=1e-5, rtol=0)
    for c, e in zip(arch_c[1:], outs[1:], strict=True):
        assert torch.equal(c.keep_mask, e.keep_mask)  # the same gate decisions ...
        moving = e.keep_mask.any(1)
        gap = (c.embedding - e.embedding).abs().amax(1)
        assert (gap[moving] > 1e-4).all()  # ... but the active tokens see their context


@pytest.mark.parametrize("settings", [BUDGET, THRESHOLD], ids=["budget", "threshold"])
def test_batched_streams_equal_one_by_one(tower, settings):
    clip = uneven_clip()
    model = make_arch("E", tower, **settings)
    together, _ = run(model, clip)
    for b in range(clip.shape[1]):
        alone, _ = run(model, clip[:, b : b + 1])
        for x, y in zip(alone, together, strict=True):
            assert torch.equal(x.keep_mask[0], y.keep_mask[b])
            torch.testing.assert_close(x.embedding[0], y.embedding[b], atol=1e-5, rtol=0)


def test_frames_that_keep_nothing_pool_the_cache():
    tower = load_vision_model("tiny-siglip")
    static = moving_square_clip(frames=3, step=0, batch=2)
    outs, state = run(make_arch("E", tower, **THRESHOLD), static)
    assert [int(o.keep_mask.sum()) for o in outs] == [128, 0, 0]
    kv = state.kv.clone()
    assert torch.equal(run(make_arch("E", tower, **THRESHOLD), static[:1])[1].kv, kv)
    for out in outs[1:]:
        assert torch.equal(out.embedding, outs[0].embedding)


def test_state_size_grid_change_and_stacking(tower):
    clip = uneven_clip()
    model = make_arch("E", tower, **THRESHOLD)
    _, state = run(model, clip[:2])
    _, c_state = run(make_arch("C", tower, **THRESHOLD), clip[:2])
    tokens = tower.num_prefix_tokens + 64
    kv_bytes = len(tower.blocks) * 2 * 3 * tokens * tower.hidden_size * 4
    assert isinstance(state, ContextState) and state.kv.shape[2] == 3
    assert state.nbytes() - c_state.nbytes() == kv_bytes == context_bytes(tower, 32, 32, batch=3)
    # Stacked single-stream states continue exactly like the batch they were split from.
    parts = split_state(state)
    joint = stack_states(parts)
    after, _ = run(model, clip[2:], joint)
    expected, _ = run(model, clip[2:], state)
    for x, y in zip(after, expected, strict=True):
        torch.testing.assert_close(x.embedding, y.embedding, atol=1e-5, rtol=0)
    # A stream that has seen no frame stacks with zero K/V rows and runs dense.
    mixed = stack_states([parts[1], model.new_state(1)])
    assert mixed.kv.shape[2] == 2 and not mixed.kv[:, :, 1].any()
    assert run(model, clip[2:3, :2], mixed)[0][0].keep_fraction.tolist()[1] == 1.0
    # A change of grid drops the K/V cache; the next frame runs dense and exact.
    bigger = torch.nn.functional.interpolate(clip[3], size=48)
    with pytest.warns(RuntimeWarning, match="grid changed"):
        state.follow_grid((12, 12))
    assert state.kv is None
    out = run(model, bigger[None], state)[0][0]
    dense = run(make_arch("dense", tower), bigger[None])[0][0]
    torch.testing.assert_close(out.embedding, dense.embedding, atol=1e-5, rtol=0)


def test_state_made_under_inference_mode_runs_outside_it():
    tower = load_vision_model("tiny-siglip")
    model = make_arch("E", tower, **BUDGET)
    clip = moving_square_clip(frames=2)
    _, state = run(model, clip[:1])
    assert state.kv.is_inference()
    with torch.no_grad():
        model(clip[1], state)
    assert not state.kv.is_inference()


def test_other_states_are_refused():
    tower = load_vision_model("tiny-siglip")
    model = make_arch("E", tower, **BUDGET)
    with pytest.raises(ValueError, match="its own new_state"):
        model(moving_square_clip(frames=1)[0], make_arch("C", tower).new_state(1))


def test_cost_model_lies_between_c_and_dense():
    bd = FlopBreakdown(
        num_patches=16, num_prefix=1, layers=2, hidden_size=8, patch_embed=100.0,
        attn_linear=40.0, mlp=80.0, attention=3.0, head_fixed=10.0, head_per_token=2.0,
    )  # fmt: skip
    t = bd.tokens
    assert ArchE.encoder_flops(bd, t) == pytest.approx(bd.block_cost(t, bd.layers))
    assert ArchE.frame_flops(bd, 1.0) == pytest.approx(bd.dense)
    for k in (0.1, 0.5, 0.9):
        n = 1 + 16 * k
        assert ArchC.frame_flops(bd, k) < ArchE.frame_flops(bd, k) < bd.dense
        extra = ArchE.encoder_flops(bd, n) - ArchC.encoder_flops(bd, n)
        assert extra == pytest.approx(bd.attention * n * (t - n))  # n queries x all keys


@pytest.mark.parametrize("settings", [BUDGET, THRESHOLD], ids=["budget", "threshold"])
def test_counted_flops_equal_the_cost_model(tower, settings):
    arch = make_arch("E", tower, **settings)
    counted = count_method_flops(ArchMethod(arch), list(uneven_clip()), frames=3)
    bd = measure_breakdown(tower, 32)
    probe = 2 * 2 * tower.hidden_size**2  # the folded MAP head's probe, once per call
    for flops, keep in zip(counted.frames, counted.keep, strict=True):
        model = sum(arch.flops(bd, k) for k in keep)
        assert model - probe <= flops <= model
        assert flops == pytest.approx(model, rel=0.01)
