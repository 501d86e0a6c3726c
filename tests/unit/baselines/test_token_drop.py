"""Training-free token dropping: exactness, counts, importance, keep fraction, cost model."""

from dataclasses import replace

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.baselines.token_drop import (
    TokenDrop,
    default_drop_layers,
    geometric_rates,
    schedule_keep,
)
from neuroflow.bench.flops import FlopBreakdown
from neuroflow.models.map_head import probe_keys
from tests.helpers import moving_square_clip

CLASS_TOKEN = ["tiny-clip", "tiny-vit"]


def embed(tower, batch=3, frame=1):
    return tower.embed(moving_square_clip(frames=frame + 1, batch=batch)[frame])


def block_inputs(tower):
    """Record the token count every block receives (forward pre-hooks)."""
    seen = []
    for block in tower.blocks:
        block.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[1]))
    return seen


@pytest.mark.parametrize("source", ["tiny-siglip", *CLASS_TOKEN])
@pytest.mark.parametrize(
    "settings",
    [
        {"keep_rates": (1.0, 1.0, 1.0)},
        {"keep_fraction": 1.0},
        {"drop_layers": (0, 1), "keep_rates": (1, 1)},
    ],
)
def test_keep_all_equals_dense(source, settings):
    tower = load_vision_model(source)
    arch, dense = make_arch("token_drop", tower, **settings), make_arch("dense", tower)
    frame = moving_square_clip(frames=2, batch=3)[1]
    with torch.inference_mode():
        out = arch(frame, arch.new_state(3))
        ref = dense(frame, dense.new_state(3))
    assert (out.embedding - ref.embedding).abs().max().item() <= 1e-5
    assert out.keep_fraction.eq(1).all() and out.keep_mask.all()


@pytest.mark.parametrize("source", ["tiny-siglip", "tiny-clip"])
def test_token_counts_follow_the_rates_and_keep_fraction_the_arithmetic(source):
    tower = load_vision_model(source)
    arch = make_arch("token_drop", tower, drop_layers=(0, 1), keep_rates=(0.8, 0.45))
    p, n = tower.num_prefix_tokens, 64
    seen = block_inputs(tower)
    with torch.inference_mode():
        out = arch(moving_square_clip(frames=1, batch=2)[0], arch.new_state(2))
    assert seen == [p + round(0.8 * n), p + round(0.45 * n)]  # 51 and 29 patches
    expected = (round(0.8 * n) + round(0.45 * n)) / (2 * n)
    assert out.keep_fraction.tolist() == pytest.approx([expected] * 2)
    assert arch.keep_fraction_for(n) == pytest.approx(expected)
    assert out.keep_mask.all()  # every patch enters block 0


def test_defaults_are_the_quarter_points():
    assert default_drop_layers(12) == (3, 6, 9)
    assert default_drop_layers(4) == (1, 2, 3)
    assert default_drop_layers(2) == (1, 1, 1)  # shallow towers: clamped inside [1, L - 1]
    arch = make_arch("token_drop", load_vision_model("tiny-siglip"))
    assert arch.keep_rates == (0.9, 0.7, 0.5)
    assert arch.keep_fraction_for(64) == pytest.approx((64 + 32) / 128)


@pytest.mark.parametrize("source", ["tiny-siglip", "tiny-clip"])
def test_dropped_tokens_are_the_least_important(source):
    tower = load_vision_model(source)
    arch = make_arch("token_drop", tower, drop_layers=(1,), keep_rates=(0.5,))
    tokens = embed(tower).tokens
    with torch.no_grad():
        hidden = tower.encode(tokens, 0, 1)
        score = arch.importance(hidden, 1)
        _, survivors = arch.encode_dropping(tokens)
    kept = torch.zeros_like(score, dtype=torch.bool).scatter_(1, survivors[0], True)
    assert kept.sum(1).eq(32).all()
    for row in range(score.shape[0]):
        assert score[row][kept[row]].min() >= score[row][~kept[row]].max()


def test_a_given_importance_decides_which_tokens_survive(tower, monkeypatch):
    arch = make_arch("token_drop", tower, drop_layers=(1,), keep_rates=(0.25,))
    scores = torch.rand(3, 64, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(arch, "importance", lambda x, layer: scores)
    with torch.no_grad():
        hidden, survivors = arch.encode_dropping(embed(tower).tokens)
    expected = scores.topk(16, dim=1).indices.sort(dim=1).values
    assert torch.equal(survivors[0], expected) and hidden.shape[1] == 16


@pytest.mark.parametrize("source", CLASS_TOKEN)
def test_class_token_survives_the_drop(source):
    tower = load_vision_model(source)
    arch = make_arch("token_drop", tower, drop_layers=(0, 1), keep_rates=(0.1, 0.05))
    x = torch.randn(2, 65, 32)
    importance = torch.zeros(2, 64)
    importance[:, :6] = 1.0  # the class token cannot be scored: only patches are
    out, idx = arch.drop(x, importance, 6)
    assert torch.equal(out[:, 0], x[:, 0]) and torch.equal(out[:, 1:], x[:, 1:7])
    assert torch.equal(idx, torch.arange(6).expand(2, 6))
    with torch.no_grad():
        hidden, _ = arch.encode_dropping(embed(tower, batch=2).tokens)
    assert hidden.shape[1] == 1 + 3  # class token plus round(0.05 * 64) patches


def test_siglip_importance_is_the_map_probe_attention(tower):
    arch = make_arch("token_drop", tower)
    head = tower.hf.head
    x = torch.randn(2, 64, 32)
    with torch.no_grad():
        xn = tower.hf.post_layernorm(x)
        probe = head.probe.expand(2, -1, -1)
        _, weights = head.attention(probe, xn, xn, need_weights=True)  # mean over heads
        assert torch.allclose(arch.importance(x, 1), weights[:, 0], atol=1e-6)
        by_hand = (xn @ probe_keys(head)).softmax(dim=1).mean(dim=-1)
        assert torch.allclose(arch.importance(x, 1), by_hand, atol=1e-7)


@pytest.mark.parametrize("source", CLASS_TOKEN)
def test_class_importance_is_the_class_attention_row_without_eager(source):
    tower = load_vision_model(source)
    implementation = tower.hf.config._attn_implementation
    arch = make_arch("token_drop", tower, drop_layers=(1,), keep_rates=(0.5,))
    block, x = tower.blocks[1], torch.randn(2, 65, 32)
    with torch.no_grad():
        h = block.ln1(x)
        shape = (2, 65, block.num_heads, block.head_dim)
        q, k = (proj(h).view(shape).transpose(1, 2) for proj in (block.q_proj, block.k_proj))
        row = (q[:, :, :1] @ k.transpose(-1, -2) * block.scale).softmax(-1)[:, :, 0]
        assert torch.allclose(arch.importance(x, 1), row.mean(1)[:, 1:], atol=1e-6)
        arch(moving_square_clip(frames=1, batch=2)[0], arch.new_state(2))
    assert tower.hf.config._attn_implementation == implementation != "eager"


def test_keep_fraction_setting_lands_near_k_or_says_why_not(tower):
    # 2 blocks, drops at block 1: the first block is dense, so keeps above 0.5 are reachable.
    assert TokenDrop.keep_settings(0.7) == {"keep_fraction": 0.7}
    for k in (0.6, 0.75, 0.9):
        arch = make_arch("token_drop", tower, **TokenDrop.keep_settings(k))
        assert abs(arch.keep_fraction_for(64) - k) <= 0.03
        rho = arch.keep_rates[0]
        assert arch.keep_rates == pytest.approx((rho, rho**2, rho**3))
    for k in (0.5, 0.3):
        with pytest.raises(ValueError, match=r"0\.500 \(lowest reachable\)"):
            make_arch("token_drop", tower, keep_fraction=k)


def test_geometric_schedule_on_twelve_blocks():
    rates = geometric_rates(0.5, (3, 6, 9), 12)
    assert schedule_keep((3, 6, 9), rates, 12) == pytest.approx(0.5, abs=1e-9)
    assert schedule_keep((3, 6, 9), (0.9, 0.7, 0.5), 12) == pytest.approx(0.775)
    with pytest.raises(ValueError, match="0.250"):
        geometric_rates(0.2, (3, 6, 9), 12)


def test_bad_schedules_are_named(tower):
    with pytest.raises(ValueError, match="one keep rate per drop layer"):
        make_arch("token_drop", tower, drop_layers=(1,), keep_rates=(0.9, 0.5))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        make_arch("token_drop", tower, drop_layers=(1, 2), keep_rates=(0.9, 0.5))
    with pytest.raises(ValueError, match="non-increasing"):
        make_arch("token_drop", tower, drop_layers=(0, 1), keep_rates=(0.5, 0.9))
    with pytest.raises(ValueError, match="keep_fraction"):
        make_arch("token_drop", tower, keep_fraction=1.5)


def test_streams_are_independent_of_the_batch(tower):
    arch = make_arch("token_drop", tower, drop_layers=(0, 1), keep_rates=(0.6, 0.3))
    frames = moving_square_clip(frames=3, batch=3)[2]
    with torch.inference_mode():
        batch = arch(frames, arch.new_state(3)).embedding
        solo = [arch(frames[i : i + 1], arch.new_state(1)).embedding[0] for i in range(3)]
    assert torch.allclose(batch, torch.stack(solo), atol=1e-6)


def test_cost_model_follows_the_per_layer_counts(tower):
    bd = FlopBreakdown(64, 1, 4, 32, 100.0, 10.0, 20.0, 0.5, 7.0, 3.0, num_heads=2)
    rates = (0.9, 0.7, 0.5)
    per_block = [64, round(0.9 * 64), round(0.7 * 64), 32]
    # Scoring before each drop: the class query and its fold (4 D^2), logits over the tokens.
    scoring = sum(4 * 32 * 32 + 2 * (1 + n) * 32 * 2 for n in per_block[:3])
    expected = 100.0 + sum(bd.block_cost(1 + t, 1) for t in per_block) + scoring + bd.head(1 + 32)
    flops = TokenDrop.frame_flops(bd, 0.7, drop_layers=(1, 2, 3), keep_rates=rates)
    assert flops == pytest.approx(expected)
    dense = make_arch("dense", tower).frame_flops(bd, 1.0)
    # Keeping every token still pays for the scores.
    assert TokenDrop.frame_flops(bd, 1.0) == pytest.approx(dense + 3 * (4 * 32 * 32 + 2 * 65 * 64))
    assert TokenDrop.frame_flops(bd, 1.0, hf_head=True) > 0
    with pytest.raises(ValueError, match="num_heads"):
        TokenDrop.frame_flops(replace(bd, num_heads=None), 0.7)
    # Without rates, k picks the geometric schedule: cost grows with k.
    costs = [TokenDrop.frame_flops(bd, k) for k in (0.4, 0.6, 0.8, 1.0)]
    assert costs == sorted(costs) and costs[0] < costs[-1]
    arch = make_arch("token_drop", tower, drop_layers=(1,), keep_rates=(0.5,))
    assert arch.cost_settings() == {"drop_layers": (1,), "keep_rates": (0.5,)}
    with pytest.raises(ValueError, match=r"\[0, 4\)|one keep rate"):
        TokenDrop.frame_flops(bd, 0.5, drop_layers=(1, 5), keep_rates=(0.5, 0.5))
