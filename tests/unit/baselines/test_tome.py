"""ToMe baselines: merging invariants, schedules, exactness at r=0, keep settings, cost model."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from neuroflow import load_vision_model, make_arch
from neuroflow.archs import ArchC, Dense, get_method
from neuroflow.baselines.gate_tome import GateToMe
from neuroflow.baselines.tome import ToMe, ToMePaper
from neuroflow.baselines.tome_merge import (
    layer_counts,
    merge_step,
    schedule_r,
    start_tokens,
    tome_attention,
    tome_encode,
    unmerge,
)
from neuroflow.bench.flops import FlopBreakdown, measure_breakdown
from neuroflow.core.rows import split_state, stack_states
from neuroflow.glyphs.matched import frame_flops as counted_frame_flops
from tests.helpers import moving_square_clip

CONF = Path(__file__).resolve().parents[3] / "conf" / "arch"


def uneven_clip() -> torch.Tensor:
    """``[3, 3, 3, 32, 32]``: a static stream, a moving square, and the square plus noise."""
    clip = moving_square_clip(frames=3, batch=3)
    clip[:, 0] = clip[0, 0]
    clip[1:, 2, :, 16:, :] += 0.5 * torch.randn(
        2, 3, 16, 32, generator=torch.Generator().manual_seed(1)
    )
    return clip


def run(arch, clip):
    state = arch.new_state(clip.shape[1])
    with torch.inference_mode():
        return [arch(frame, state) for frame in clip]


def test_token_count_drops_by_r_per_block_and_follows_the_decreasing_schedule(tower):
    x = tower.embed(torch.randn(2, 3, 32, 32)).tokens
    tokens, counts = tome_encode(tower, x, [5, 5])
    assert counts == [(64, 59), (59, 54)] and tokens.x.shape[1] == 54
    tokens, counts = tome_encode(tower, x, [5, 5], merge_before=True, proportional=False)
    assert counts == [(59, 59), (54, 54)]
    assert schedule_r(4, 4, "decreasing") == [8, 5, 3, 0]
    assert schedule_r(4, 4, "constant") == [4, 4, 4, 4]
    mini = load_vision_model("mini_siglip")
    rs = schedule_r(4, len(mini.blocks), "decreasing")
    _, counts = tome_encode(mini, mini.embed(torch.randn(1, 3, 32, 32)).tokens, rs)
    assert [a - m for a, m in counts] == [8, 5, 3, 0] == rs
    assert counts == layer_counts(64, rs)
    # The cap: never more than half the mergeable tokens of a block.
    assert layer_counts(64, [40, 40]) == [(64, 32), (32, 16)]
    with pytest.raises(ValueError, match="schedule"):
        schedule_r(4, 2, "linear")


@pytest.mark.parametrize("weighted", [True, False])
def test_merging_preserves_size_weighted_sums_and_tracks_sources(weighted):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1 + 20, 6, generator=gen)
    tokens = start_tokens(x, prefix=1)
    tokens = merge_step(tokens, torch.randn(3, 21, 4, generator=gen), 6, 1, weighted)
    tokens = merge_step(tokens, torch.randn(3, 15, 4, generator=gen), 5, 1, weighted)
    sizes = tokens.sizes
    assert tokens.x.shape == (3, 1 + 9, 6) and sizes.shape == (3, 10)
    assert torch.equal(sizes.sum(1), torch.full((3,), 21.0))
    # Every merged token stands for exactly the sources that point at it.
    held = torch.zeros(3, 10).scatter_add_(1, tokens.where, torch.ones(3, 20))
    assert torch.equal(held[:, 1:], sizes[:, 1:])
    if weighted:  # sum of size * x is what size-weighted merging preserves
        after = (sizes.unsqueeze(-1) * tokens.x).sum(1)
        torch.testing.assert_close(after, x.sum(1), atol=1e-5, rtol=1e-5)
    copies = unmerge(tokens, prefix=1)
    assert copies.shape == x.shape and torch.equal(copies[:, 0], x[:, 0])


def test_proportional_attention_with_unit_sizes_is_plain_attention(tower):
    x = torch.randn(2, 64, tower.hidden_size)
    block = tower.blocks[0]
    with torch.inference_mode():
        delta, keys = tome_attention(block, x, torch.ones(2, 64))
        torch.testing.assert_close(delta, block.attention_delta(x), atol=1e-6, rtol=0)
        # With sizes it differs (so the mask does reach the logits).
        other, _ = tome_attention(block, x, torch.arange(1.0, 65.0).expand(2, -1))
    assert keys.shape == (2, block.num_heads, 64, block.head_dim)
    assert (other - delta).abs().max() > 1e-4


@pytest.mark.parametrize("model", ["tiny-siglip", "tiny-clip", "tiny-vit"])
@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("tome", {"r": 0}),
        ("tome_paper", {"r": 0}),
        ("gate_tome", {"mode": "budget", "keep_fraction": 1.0, "merge_fraction": 0.0}),
    ],
)
def test_no_merging_equals_dense(model, name, settings):
    tower = load_vision_model(model)
    clip = moving_square_clip(frames=3, batch=2)
    outs = run(make_arch(name, tower, **settings), clip)
    for out, ref in zip(outs, run(make_arch("dense", tower), clip), strict=True):
        torch.testing.assert_close(out.embedding, ref.embedding, atol=1e-5, rtol=1e-5)
        assert out.keep_mask.all() and torch.equal(out.keep_fraction, torch.ones(2))


def test_class_tokens_are_never_merged():
    tower = load_vision_model("tiny-clip")
    x = tower.embed(torch.randn(2, 3, 32, 32)).tokens
    tokens, counts = tome_encode(tower, x, [40, 40])  # every block merges its cap
    assert counts == [(64, 32), (32, 16)]
    assert torch.equal(tokens.sizes[:, 0], torch.ones(2))
    assert (tokens.where >= 1).all()  # no patch is held by the class token
    assert torch.equal(tokens.sizes[:, 1:].sum(1), torch.full((2,), 64.0))


def test_size_weighted_map_pooling_counts_a_duplicate_as_size_two(tower):
    hidden = torch.randn(2, 10, tower.hidden_size)
    with torch.inference_mode():
        doubled = tower.fast_pool(torch.cat([hidden, hidden[:, 3:4]], dim=1))
        sizes = torch.ones(2, 10)
        sizes[:, 3] = 2.0
        weighted = tower.fast_pool(hidden, sizes)
        plain = tower.fast_pool(hidden)
    torch.testing.assert_close(weighted, doubled, atol=1e-5, rtol=1e-5)
    assert (weighted - plain).abs().max() > 1e-4


def test_keep_fraction_settings_land_and_unreachable_ones_are_refused(tower, frames):
    clip = frames[:2].unsqueeze(1)
    assert make_arch("tome", tower, keep_fraction=1.0).r_for(64) == 0
    for k in (0.6, 0.7, 0.8, 0.9):
        for name in ("tome", "tome_paper"):
            arch = make_arch(name, tower, **get_method(name).keep_settings(k))
            assert abs(run(arch, clip[:1])[-1].keep_fraction.item() - k) <= 1 / 64
        gated = make_arch("gate_tome", tower, **GateToMe.keep_settings(k))
        assert abs(run(gated, clip)[-1].keep_fraction.item() - k) <= 0.03
    for k in (0.1, 0.3, 0.5):  # below ToMe's reach on 2 blocks, within the gate's
        gated = make_arch("gate_tome", tower, **GateToMe.keep_settings(k))
        assert abs(run(gated, clip)[-1].keep_fraction.item() - k) <= 0.03
    with pytest.raises(ValueError, match=r"lowest reachable is 0\.5625"):
        make_arch("tome", tower, keep_fraction=0.3)
    just_below = make_arch("tome", tower, keep_fraction=0.5625 - 0.005)  # within the tolerance
    assert run(just_below, clip[:1])[-1].keep_fraction.item() == pytest.approx(0.5625)
    with pytest.raises(ValueError, match="lowest reachable"):
        make_arch("tome_paper", tower, keep_fraction=0.2, schedule="decreasing")
    with pytest.raises(ValueError, match="keep_fraction"):
        ToMe.keep_settings(0.0)
    assert GateToMe.keep_settings(1.0) == {
        "mode": "budget",
        "keep_fraction": 1.0,
        "merge_fraction": 0.0,
    }


@pytest.mark.parametrize(
    ("name", "settings"),
    [("tome", {"r": 6}), ("tome_paper", {"r": 6}), ("gate_tome", {"threshold": 0.05})],
)
def test_a_streams_result_does_not_depend_on_the_batch(tower, name, settings):
    clip = uneven_clip()
    arch = make_arch(name, tower, floor_tokens=1, **settings) if name == "gate_tome" else None
    arch = arch or make_arch(name, tower, **settings)
    batched = run(arch, clip)
    alone = run(arch, clip[:, 1:2])
    if name == "gate_tome":  # a threshold gate: the streams keep different counts
        assert len(set(batched[-1].keep_mask.sum(1).tolist())) > 1
    for b, a in zip(batched, alone, strict=True):
        torch.testing.assert_close(b.embedding[1:2], a.embedding, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(b.keep_fraction[1:2], a.keep_fraction)


def small_breakdown() -> FlopBreakdown:
    """Costs of a 4-block ViT with D = 32 (per token per block: 8 D^2 attention linears,
    16 D^2 MLP, 4 D per squared token in the attention matmuls)."""
    d, layers = 32, 4
    return FlopBreakdown(
        num_patches=64,
        num_prefix=1,
        layers=layers,
        hidden_size=d,
        patch_embed=2.0 * 64 * 48 * d,
        attn_linear=8.0 * d * d * layers,
        mlp=16.0 * d * d * layers,
        attention=4.0 * d * layers,
        head_fixed=500.0,
        head_per_token=100.0,
    )


def test_cost_model_is_dense_at_r0_and_falls_with_r():
    bd = small_breakdown()
    assert ToMe.frame_flops(bd, 1.0, r=0) == pytest.approx(Dense.frame_flops(bd, 1.0))
    assert ToMePaper.frame_flops(bd, 1.0, r=0) == pytest.approx(bd.dense)
    costs = [ToMe.frame_flops(bd, 1.0, r=r) for r in (0, 2, 4, 8, 16)]
    assert all(a > b for a, b in zip(costs, costs[1:], strict=False))
    assert ToMePaper.frame_flops(bd, 1.0, r=8) < ToMe.frame_flops(bd, 1.0, r=8)
    target = ToMe.frame_flops(bd, 1.0, keep_fraction=0.75)
    assert target == ToMe.frame_flops(bd, 1.0, r=8)  # 4 blocks x 8 of 64: share 0.75
    assert GateToMe.frame_flops(bd, 0.3, merge_fraction=0.0) == ArchC.frame_flops(bd, 0.3)
    assert GateToMe.frame_flops(bd, 0.3) < ArchC.frame_flops(bd, 0.3 / 0.75)
    assert GateToMe.frame_flops(bd, 1.0, merge_fraction=0.0) == pytest.approx(bd.dense)


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("tome", {"r": 6}),
        ("tome_paper", {"r": 6}),
        ("gate_tome", {"mode": "budget", "keep_fraction": 0.5}),
        ("gate_tome", {"threshold": 0.05, "floor_tokens": 1}),  # streams of different counts
    ],
)
def test_cost_model_matches_counted_flops(tower, name, settings):
    arch = make_arch(name, tower, **settings)
    clip = uneven_clip()[:2]
    counted = counted_frame_flops(arch, clip.transpose(0, 1))  # the second frame, per stream
    bd = measure_breakdown(tower, 32)
    keeps = run(arch, clip)[-1].keep_fraction.tolist()
    assert len(set(keeps)) == (3 if "threshold" in settings else 1)
    model = sum(arch.flops(bd, k) for k in keeps) / len(keeps)
    assert model == pytest.approx(counted, rel=1e-6)


def test_gate_tome_states_stack_and_split(tower):
    arch = make_arch("gate_tome", tower, threshold=0.05, floor_tokens=1)
    clip = moving_square_clip(frames=3, batch=2)
    states = [arch.new_state(1), arch.new_state(1)]
    with torch.inference_mode():
        for b in range(2):
            arch(clip[0, b : b + 1], states[b])
        joint = stack_states(states)
        out = arch(clip[1], joint)
        solo = [arch(clip[1, b : b + 1], states[b]) for b in range(2)]
    for b in range(2):
        torch.testing.assert_close(out.embedding[b : b + 1], solo[b].embedding, atol=1e-5, rtol=0)
    parts = split_state(joint)
    assert [p.batch for p in parts] == [1, 1]
    torch.testing.assert_close(parts[1].cache, states[1].cache, atol=1e-5, rtol=0)


def test_registry_and_configs_build_the_methods(tower):
    assert isinstance(make_arch("tome", tower, r=2), ToMe)
    assert make_arch("tome", tower, r=2).cost_settings()["r"] == 2
    assert type(get_method("tome_paper")) is type(ToMe) and issubclass(ToMePaper, ToMe)
    assert issubclass(GateToMe, ArchC) and not ToMe.uses_gate and GateToMe.uses_cache
    for name, cls in (("tome", ToMe), ("tome_paper", ToMePaper), ("gate_tome", GateToMe)):
        build = instantiate(OmegaConf.load(CONF / f"{name}.yaml"), _partial_=True)
        extra = {"gate": None, "cache": None} if not cls.uses_gate else {}
        arch = build(tower=tower, **extra)
        assert type(arch) is cls
        assert run(arch, moving_square_clip(frames=2))[-1].embedding.shape == (1, 32)
    with pytest.raises(ValueError, match="r must be"):
        make_arch("tome", tower, r=-1)
    with pytest.raises(ValueError, match="merge_fraction"):
        make_arch("gate_tome", tower, merge_fraction=1.5)
