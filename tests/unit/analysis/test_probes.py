"""The representation probes: exact answers on clips whose outcome is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuroflow.analysis.map_probes import (
    attention_entropy,
    frame_spearman,
    map_attention,
    summarise_rhos,
)
from neuroflow.analysis.probes import PROBES, RunningMoments, run_probes
from neuroflow.analysis.trace import TraceSettings
from neuroflow.eval.zeroshot import project_image
from neuroflow.models import load_vision_model

pytestmark = pytest.mark.usefixtures("one_thread")
N = 64  # patches of the 32 px tiny towers
TOKEN_PROBES = ["representation_gap", "final_layer_stability", "contextual_incompatibility"]
MAP_PROBES = ["map_entropy", "map_surprise_spearman"]
CONTRACT = {
    "representation_gap": ["layer", "cos_to_final", "cos_std", "gap"],
    "final_layer_stability": ["status", "cos_prev", "cos_std", "tokens"],
    "contextual_incompatibility": [
        "active_shift", "active_shift_std", "cache_staleness", "cache_staleness_std",
        "ratio", "staleness_share", "active_tokens", "inactive_tokens",
    ],
    "map_entropy": ["condition", "entropy", "entropy_norm", "entropy_norm_active", "tokens_seen"],
    "pooled_magnitude": ["condition", "pooled_norm", "max_logit", "top1_frame"],
    "map_surprise_spearman": [
        "condition", "rho", "rho_ci_low", "rho_ci_high", "frames", "positive_share",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def keep_all(tower, moving):
    return run_probes(tower, moving, TraceSettings(floor_tokens=N, batch=2))


@pytest.fixture(scope="module")
def on_static(tower, static):
    return run_probes(tower, static, TraceSettings(threshold=0.0, floor_tokens=3))


@pytest.fixture(scope="module")
def on_moving(tower, moving):
    return run_probes(tower, moving, TraceSettings(threshold=0.0, floor_tokens=1, batch=2))


def test_every_table_has_the_contract_columns(on_moving):
    assert set(PROBES) == set(CONTRACT)
    assert list(on_moving) == [n for n in PROBES if n != "pooled_magnitude"]  # no joint space
    for name, table in on_moving.items():
        assert list(table.columns[: len(CONTRACT[name])]) == CONTRACT[name]


def test_keeping_every_patch_leaves_no_gap(keep_all):
    gap = keep_all["representation_gap"].set_index("layer")
    assert gap.loc[2, "gap"] == 0.0 and gap.loc[2, "cos_std"] == 0.0  # layer L against itself
    assert gap.loc[0, "gap"] > gap.loc[1, "gap"] > 0
    ci = keep_all["contextual_incompatibility"].iloc[0]
    assert abs(ci["active_shift"]) < 1e-5
    assert ci["active_tokens"] == 3 * 3 * N and ci["inactive_tokens"] == 0
    assert math.isnan(ci["cache_staleness"])
    entropy = keep_all["map_entropy"].set_index("condition")
    np.testing.assert_allclose(entropy["entropy"], entropy.loc["dense", "entropy"], atol=1e-5)
    assert (entropy["tokens_seen"] == N).all() and (entropy["frames"] == 9).all()
    np.testing.assert_allclose(entropy["entropy_norm"], entropy["entropy"] / math.log(N))
    np.testing.assert_allclose(entropy["entropy_norm_active"], entropy["entropy_norm"])


def test_representation_gap_matches_hf_hidden_states(tower, moving, keep_all):
    with torch.no_grad():
        hf = tower.hf(pixel_values=moving.flatten(0, 1), output_hidden_states=True)
    final = hf.hidden_states[-1]
    gap = keep_all["representation_gap"].set_index("layer")
    for layer in (0, 1):
        cos = F.cosine_similarity(hf.hidden_states[layer], final, dim=-1).double()
        assert gap.loc[layer, "cos_to_final"] == pytest.approx(float(cos.mean()), abs=1e-5)
        assert gap.loc[layer, "cos_std"] == pytest.approx(float(cos.std()), abs=1e-5)
        frame_std = float(cos.mean(dim=1).std())
        assert gap.loc[layer, "frame_std"] == pytest.approx(frame_std, abs=1e-5)
    assert (gap["tokens"] == 3 * 4 * N).all()


def test_running_moments_merge_like_one_batch():
    values = torch.randn(1000, dtype=torch.float64) * 3 + 7
    moments = RunningMoments()
    for part in values.split([1, 10, 489, 0, 500]):
        moments.add(part)
    assert moments.count == 1000
    assert moments.value == pytest.approx(float(values.mean()), rel=1e-12)
    assert moments.std == pytest.approx(float(values.std()), rel=1e-10)


def test_a_static_clip_keeps_only_the_floor_and_its_cache_is_exact(on_static):
    ci = on_static["contextual_incompatibility"].iloc[0]
    assert ci["active_tokens"] == 2 * 3 * 3  # clips x frames t >= 1 x floor
    assert ci["inactive_tokens"] == 2 * 3 * (N - 3)
    assert abs(ci["cache_staleness"]) < 1e-6
    assert ci["active_shift"] > 0.01  # three patches encoded alone differ from dense
    stability = on_static["final_layer_stability"].set_index("status")
    np.testing.assert_allclose(stability["cos_prev"], 1.0, atol=1e-6)
    assert stability.loc["active", "tokens"] == 18 and stability.loc["inactive", "tokens"] == 366
    spearman = on_static["map_surprise_spearman"]
    assert (spearman["frames"] == 0).all() and spearman["rho"].isna().all()  # surprise all 0
    entropy = on_static["map_entropy"].set_index("condition")
    assert entropy.loc["sparse_no_cache", "tokens_seen"] == 3
    assert entropy.loc["arch_c", "entropy"] == pytest.approx(entropy.loc["dense", "entropy"])


def test_moving_clips_split_tokens_between_shift_and_staleness(on_moving):
    ci = on_moving["contextual_incompatibility"].iloc[0]
    assert ci["active_tokens"] + ci["inactive_tokens"] == 3 * 3 * N
    assert 0 < ci["active_tokens"] < 3 * 3 * N
    shift, stale = ci["active_shift"], ci["cache_staleness"]
    assert shift > 0 and stale > 0
    assert ci["ratio"] == pytest.approx(shift / stale)
    assert ci["staleness_share"] == pytest.approx(stale / (shift + stale))
    stability = on_moving["final_layer_stability"]
    assert stability["tokens"].sum() == 3 * 3 * N
    spearman = on_moving["map_surprise_spearman"]
    assert (spearman["frames"] == 9).all()
    assert (
        (spearman["rho_ci_low"] <= spearman["rho"]) & (spearman["rho"] <= spearman["rho_ci_high"])
    ).all()


def test_map_attention_equals_the_heads_own_weights(tower):
    head = tower.hf.head
    hidden = torch.randn(2, N, tower.hidden_size)
    mask = torch.rand(2, N) > 0.5
    x = tower.hf.post_layernorm(hidden)
    probe = head.probe.expand(2, -1, -1)
    for key_mask in (None, mask):
        _, weights = head.attention(
            probe, x, x, need_weights=True, average_attn_weights=False,
            key_padding_mask=None if key_mask is None else ~key_mask,
        )  # fmt: skip
        ours = map_attention(tower, hidden, key_mask)
        torch.testing.assert_close(ours, weights[:, :, 0].transpose(1, 2), atol=1e-5, rtol=0)


def test_attention_entropy_of_known_distributions():
    uniform = torch.full((1, N, 2), 1.0 / N)
    torch.testing.assert_close(attention_entropy(uniform), torch.full((1, 2), math.log(N)))
    one_hot = torch.zeros(1, N, 1)
    one_hot[0, 5] = 1.0
    assert attention_entropy(one_hot).item() == 0.0


def test_spearman_on_constructed_orders():
    surprise = torch.arange(10.0).repeat(3, 1)
    attention = torch.stack([surprise[0] ** 2, -surprise[0], torch.ones(10)])
    rho = frame_spearman(attention, surprise)
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(-1.0) and np.isnan(rho[2])
    summary = summarise_rhos({0: [0.5, 0.7], 1: [-0.1], 2: []})
    assert summary["rho"] == pytest.approx(1.1 / 3) and summary["frames"] == 3
    assert summary["positive_share"] == pytest.approx(2 / 3)
    assert -0.1 <= summary["rho_ci_low"] < summary["rho_ci_high"] <= 0.6  # clip means' range
    alone = summarise_rhos({4: [0.2, 0.4]})
    assert alone["rho"] == pytest.approx(0.3) and np.isnan(alone["rho_ci_low"])


def test_pooled_magnitude_on_a_joint_space(joint, moving):
    model, tower, classifier = joint
    with torch.no_grad():
        pooled = model.vision_model(pixel_values=moving[:, 1:].flatten(0, 1)).pooler_output
        pred = classifier.predict(project_image(model, pooled)).view(3, 3)
    labels = pred[:, 0].numpy()
    tables = run_probes(
        tower, moving, TraceSettings(floor_tokens=N), names=["pooled_magnitude"],
        project=lambda p: project_image(model, p), classifier=classifier, labels=labels,
    )  # fmt: skip
    table = tables["pooled_magnitude"].set_index("condition")
    norm = float(pooled.norm(dim=-1).mean())
    np.testing.assert_allclose(table["pooled_norm"], norm, rtol=1e-5)
    hits = float((pred == torch.as_tensor(labels)[:, None]).float().mean())
    assert (table["top1_frame"] == hits).all() and hits >= 1 / 3
    assert (table["frames"] == 9).all()


def test_what_a_probe_needs_is_named(tower, moving):
    with pytest.raises(ValueError, match="project and classifier"):
        run_probes(tower, moving, names=["pooled_magnitude"])
    with pytest.raises(ValueError, match="unknown probe"):
        run_probes(tower, moving, names=["entropy"])
    with pytest.raises(ValueError, match="one class index per clip"):
        run_probes(tower, moving, names=TOKEN_PROBES[:1], labels=[0, 1])
    with pytest.raises(ValueError, match="2\\+ frames"):
        run_probes(tower, moving[:, :1], names=TOKEN_PROBES)
    one_frame = run_probes(tower, moving[:, :1], names=["representation_gap"])
    assert one_frame["representation_gap"]["tokens"].eq(3 * N).all()


def test_map_probes_refuse_a_class_token_model(moving):
    clip = load_vision_model("tiny-clip")
    for name in MAP_PROBES:
        with pytest.raises(ValueError, match="no MAP head"):
            run_probes(clip, moving, names=[name])
    assert list(run_probes(clip, moving[:1, :2])) == TOKEN_PROBES
