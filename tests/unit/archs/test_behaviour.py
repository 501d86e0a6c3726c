"""Sparse behaviour: the gate follows motion, streams stay independent, bad input fails clearly."""

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from tests.helpers import changed_patches, moving_square_clip


@pytest.fixture(scope="module")
def tower():
    return load_vision_model("tiny-siglip")


def run(model, clip, batch):
    state = model.new_state(batch)
    with torch.inference_mode():
        return [model(frame, state) for frame in clip], state


def test_gate_keeps_moving_patches_and_skips_static_ones(tower):
    clip = moving_square_clip(frames=5, batch=2)
    outs, _ = run(make_arch("C", tower, threshold=1e-4, ema_decay=0.5, floor_tokens=0), clip, 2)
    assert outs[0].keep_mask.all()
    ever_changed = torch.zeros_like(outs[0].keep_mask)
    for t in range(1, len(clip)):
        changed = changed_patches(clip[t - 1], clip[t], tower.patch_size)
        ever_changed |= changed
        assert (outs[t].keep_mask | ~changed).all(), "a patch whose pixels changed was skipped"
        assert not (outs[t].keep_mask & ~ever_changed).any(), "a never-changed patch was kept"
        assert (outs[t].keep_fraction < 0.5).all()


def test_floor_holds(tower):
    outs, _ = run(make_arch("B", tower, threshold=2.0, floor_tokens=5), moving_square_clip(4), 1)
    assert [int(o.keep_mask.sum()) for o in outs] == [64, 5, 5, 5]


def test_arch_c_threshold_zero_keeps_only_floor_and_pools_all_tokens(tower):
    # A static clip: surprise is 0 everywhere, so only the floor is recomputed.
    static = moving_square_clip(frames=4, step=0)
    model = make_arch("C", tower, threshold=0.0, floor_tokens=4)
    outs, state = run(model, static, 1)
    assert [int(o.keep_mask.sum()) for o in outs] == [64, 4, 4, 4]
    assert state.cache.shape == (1, 64, tower.hidden_size)
    with torch.inference_mode():
        dense_final = tower.encode(tower.embed(static[-1]).tokens)
        pooled_cache = tower.pool(state.cache)
    untouched = ~outs[-1].keep_mask[0]
    # Slots never recomputed still hold the dense first frame's final-layer output ...
    assert torch.allclose(state.cache[0, untouched], dense_final[0, untouched], atol=1e-5)
    # ... and the head pools over all 64 cached tokens.
    assert torch.allclose(outs[-1].embedding, pooled_cache)


def test_arch_b_pools_only_active_tokens(tower):
    clip = moving_square_clip(frames=3)
    outs, _ = run(make_arch("B", tower, threshold=2.0, floor_tokens=4), clip, 1)
    keep = outs[-1].keep_mask[0]
    with torch.inference_mode():
        tokens = tower.embed(clip[-1]).tokens[:, keep]
        expected = tower.pool(tower.encode(tokens))
    assert torch.allclose(outs[-1].embedding, expected, atol=1e-6)


@pytest.mark.parametrize("arch", ["A", "B", "C", "D"])
def test_batched_streams_equal_one_by_one(tower, arch):
    clip = moving_square_clip(frames=4, batch=3, seed=3)
    model = make_arch(arch, tower, threshold=0.01, ema_decay=0.3, floor_tokens=2)
    together, _ = run(model, clip, 3)
    for b in range(3):
        alone, _ = run(model, clip[:, b : b + 1], 1)
        for t, (x, y) in enumerate(zip(alone, together, strict=True)):
            assert torch.equal(x.keep_mask[0], y.keep_mask[b]), (arch, b, t)
            assert torch.allclose(x.embedding[0], y.embedding[b], atol=1e-5), (arch, b, t)


def test_reset_one_stream_reruns_it_dense(tower):
    clip = moving_square_clip(frames=3, batch=2)
    model = make_arch("C", tower, threshold=0.5, floor_tokens=1)
    outs, state = run(model, clip, 2)
    state.reset(streams=[0])
    with torch.inference_mode():
        out = model(clip[-1], state)
        dense = tower(clip[-1])
    assert out.keep_mask[0].all() and not out.keep_mask[1].all()
    assert torch.allclose(out.embedding[0], dense[0], atol=1e-5)


def test_resolution_change_auto_resets_all_streams(tower):
    model = make_arch("C", tower, threshold=0.5)
    state = model.new_state(2)
    with torch.inference_mode():
        model(torch.randn(2, 3, 32, 32), state)
        with pytest.warns(RuntimeWarning, match="resetting") as caught:
            out = model(torch.randn(2, 3, 48, 48), state)
    assert out.keep_mask.shape == (2, 144) and out.keep_mask.all()
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1  # warned once


@pytest.mark.parametrize("arch", ["A", "B", "C", "D", "random_C"])
def test_grid_change_with_the_same_token_count_resets_like_a_fresh_stream(tower, arch):
    # 32x64 and 64x32 px both give 128 patches, but on other places of the image.
    model = make_arch(arch, tower, threshold=0.05, ema_decay=0.3, floor_tokens=2)
    wide = moving_square_clip(frames=3, size=64, batch=2)[..., :32, :]
    tall = moving_square_clip(frames=1, size=64, batch=2, seed=5)[0, ..., :32]
    state = model.new_state(2)
    with torch.inference_mode():
        for frame in wide:
            model(frame, state)
        with pytest.warns(RuntimeWarning, match="grid changed from 8x16 to 16x8"):
            out = model(tall, state)
        fresh = model(tall, model.new_state(2))
    assert out.keep_mask.all()
    torch.testing.assert_close(out.embedding, fresh.embedding, rtol=0, atol=0)


def test_same_grid_gives_no_warning(tower, recwarn):
    model = make_arch("C", tower, threshold=0.5)
    state = model.new_state(1)
    with torch.inference_mode():
        for frame in moving_square_clip(frames=3):
            model(frame, state)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_integer_frames_are_refused_saying_what_is_expected(tower, dtype):
    model = make_arch("C", tower)
    frames = torch.zeros(1, 3, 32, 32, dtype=dtype)
    with pytest.raises(ValueError, match=r"floating-point .* mean/std .*\[-1, 1\] for SigLIP"):
        model(frames, model.new_state(1))


def test_cache_blend_mode_moves_cache_only_partly(tower):
    clip = moving_square_clip(frames=3)
    hard, _ = run(make_arch("C", tower, threshold=1e-4, ema_decay=0.5), clip, 1)
    blend, state = run(
        make_arch("C", tower, threshold=1e-4, ema_decay=0.5, cache_mode="blend", cache_alpha=0.1),
        clip,
        1,
    )
    assert torch.allclose(hard[0].embedding, blend[0].embedding)  # first frame replaces
    assert not torch.allclose(hard[-1].embedding, blend[-1].embedding)


def test_a_blended_cache_is_replaced_where_every_token_is_recomputed(tower):
    # A frame that recomputes every patch (keep-all, a keyframe) saw the whole context: the
    # blend replaces there, so keeping every token stays exact.
    clip = moving_square_clip(frames=3, batch=2)
    blend = make_arch("C", tower, mode="budget", keep_fraction=1.0, cache_mode="blend")
    state = blend.new_state(2)
    with torch.inference_mode():
        for frame in clip:
            assert torch.allclose(blend(frame, state).embedding, tower(frame), atol=1e-5)


def test_arch_a_without_anchor_differs_from_keyframe_anchor(tower):
    clip = moving_square_clip(frames=3)
    anchored, _ = run(make_arch("A", tower, threshold=0.5, floor_tokens=1), clip, 1)
    plain, _ = run(make_arch("A", tower, threshold=0.5, floor_tokens=1, anchor="none"), clip, 1)
    assert torch.allclose(anchored[0].embedding, plain[0].embedding, atol=1e-6)
    assert not torch.allclose(anchored[-1].embedding, plain[-1].embedding, atol=1e-4)


@pytest.mark.parametrize(
    ("frames", "batch", "match"),
    [
        (torch.randn(2, 1, 32, 32), 2, "channels"),
        (torch.randn(2, 4, 32, 32), 2, "channels"),
        (torch.full((2, 3, 32, 32), float("nan")), 2, "NaN"),
        (torch.randn(3, 3, 32, 32), 2, "state was made for 2"),
        (torch.randn(3, 32, 32), 2, r"\[B, C, H, W\]"),
        (torch.randn(2, 3, 30, 30), 2, "multiple of the patch size"),
    ],
)
def test_bad_input_raises_clear_error(tower, frames, batch, match):
    model = make_arch("C", tower)
    with pytest.raises(ValueError, match=match):
        model(frames, model.new_state(batch))


def test_bad_settings(tower):
    with pytest.raises(ValueError, match="threshold"):
        make_arch("C", tower, threshold=3.0)
    with pytest.raises(ValueError, match="ema_decay"):
        make_arch("B", tower, ema_decay=0.0)
    with pytest.raises(ValueError, match="unknown method"):
        make_arch("Z", tower)
    with pytest.raises(ValueError, match="dense_layers"):
        make_arch("D", tower, dense_layers=7)
    with pytest.raises(ValueError, match="dense_first_frame"):
        make_arch("C", tower, dense_first_frame=False)


def test_state_memory_of_arch_c_is_cache_plus_ema(tower):
    model = make_arch("C", tower)
    _, state = run(model, moving_square_clip(frames=2), 1)
    n, d = 64, tower.hidden_size
    assert state.nbytes() <= (2 * n * d + 4 * n) * 4 + 64
