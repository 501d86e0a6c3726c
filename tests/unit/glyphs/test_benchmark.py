"""Video benchmark plumbing: streams through the architectures, metrics, calibration, report."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from neuroflow import make_arch
from neuroflow.baselines.random_keep import random_keep_arch
from neuroflow.core.gate import GateConfig
from neuroflow.core.threshold_search import keep_fraction
from neuroflow.eval.zeroshot import build_classifier
from neuroflow.glyphs.benchmark import (
    Evaluator,
    clip_correct,
    dense_accuracy,
    fidelity,
    keep_stats,
    run_clips,
)
from neuroflow.glyphs.calibrate import calibrate_threshold, clip_features
from neuroflow.glyphs.clips import ClipSpec, make_clips
from neuroflow.glyphs.io import save_model
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.report import main
from neuroflow.glyphs.summary import summary_table
from neuroflow.glyphs.text import TEMPLATES
from neuroflow.models import wrap_tower

STATS = ([0.5] * 3, [0.5] * 3)


@pytest.fixture(scope="module")
def clips():
    return make_clips(6, ClipSpec(frames=5), seed=0)


def test_full_keep_arch_c_and_random_equal_dense(tiny, clips):
    model, _ = tiny
    tower = wrap_tower(model)
    with torch.inference_mode():
        dense = run_clips(make_arch("dense", tower), model, clips, STATS, batch=4)
        full_c = run_clips(
            make_arch("C", tower, mode="budget", keep_fraction=1.0), model, clips, STATS, batch=4
        )
        full_r = run_clips(random_keep_arch("C", tower, 1.0), model, clips, STATS, batch=4)
    assert dense.embeds.shape == (6, 5, 32) and dense.keep.all()
    torch.testing.assert_close(full_c.embeds, dense.embeds, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full_r.embeds, dense.embeds, atol=1e-5, rtol=1e-5)
    fid = fidelity(full_c, dense)
    assert fid["frame_fidelity"] == pytest.approx(1.0, abs=1e-5)
    stats = keep_stats(dense, clips.patch_motion(4))
    assert stats["keep_fraction"] == 1.0 and stats["motion_recall"] == 1.0


def test_random_runs_do_not_depend_on_batch_size(tiny, clips):
    model, _ = tiny
    tower = wrap_tower(model)
    arch = random_keep_arch("C", tower, 0.2, seed=0)
    with torch.inference_mode():
        a = run_clips(arch, model, clips, STATS, batch=6)
        b = run_clips(arch, model, clips, STATS, batch=2)
    assert torch.equal(a.keep, b.keep)
    torch.testing.assert_close(a.embeds, b.embeds, atol=1e-5, rtol=1e-5)


def test_counts_match_another_gate_frame_by_frame(tiny, clips):
    model, _ = tiny
    tower = wrap_tower(model)
    with torch.inference_mode():
        gated = run_clips(make_arch("C", tower, threshold=0.05, ema_decay=0.1), model, clips, STATS)
        counts = gated.keep.sum(-1)
        rand = run_clips(random_keep_arch("C", tower, 0.5), model, clips, STATS, counts=counts)
    assert torch.equal(rand.keep[:, 1:].sum(-1), counts[:, 1:])
    assert rand.keep[:, 0].all()


def test_dense_accuracy_is_consistent(tiny, clips):
    model, processor = tiny
    clf = build_classifier(model, processor, CLASS_NAMES, TEMPLATES)
    with torch.inference_mode():
        dense = run_clips(make_arch("dense", wrap_tower(model)), model, clips, STATS)
    acc = dense_accuracy(clf, dense, clips.labels)
    frame_hits = clf.predict(dense.embeds) == torch.as_tensor(clips.labels)[:, None]
    assert acc["per_frame"] == pytest.approx(float(frame_hits.float().mean()))
    assert acc["first_frame"] == pytest.approx(float(frame_hits[:, 0].float().mean()))
    assert acc["clip_mean"] == pytest.approx(clip_correct(clf, dense, clips.labels).mean())
    assert set(acc) == {"per_frame", "first_frame", "last_frame", "clip_mean", "clip_logit_mean"}


def test_threshold_calibration_hits_target(tiny):
    model, _ = tiny
    tower = wrap_tower(model)
    gate = GateConfig(ema_decay=0.1, floor_tokens=4)
    calib = make_clips(8, ClipSpec(frames=6), seed=1, split="train")
    theta = calibrate_threshold(tower, calib, 0.3, gate, STATS)
    feats = clip_features(tower, calib, STATS)
    assert feats.shape[:2] == (6, 8)
    assert keep_fraction(feats, replace(gate, threshold=theta)) == pytest.approx(0.3, abs=0.03)
    # Without noise, patches the glyph never touches have zero surprise: the gate cannot
    # keep 90% of the patches at any threshold.
    still = make_clips(8, ClipSpec(frames=6, noise=0.0), seed=1, split="train")
    with pytest.raises(ValueError, match="unreachable"):
        calibrate_threshold(tower, still, 0.9, gate, STATS)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        calibrate_threshold(tower, calib, 0.0, gate, STATS)


def test_calibration_uses_the_whole_gate_config(tiny):
    model, _ = tiny
    tower = wrap_tower(model)
    calib = make_clips(4, ClipSpec(frames=5), seed=1, split="train")
    # A floor of 12 of the 64 patches supplies most of a 0.25 keep, so the threshold must
    # let fewer patches through on surprise alone: it comes out higher than without a floor.
    thetas = [
        calibrate_threshold(tower, calib, 0.25, GateConfig(ema_decay=0.1, floor_tokens=f), STATS)
        for f in (0, 12)
    ]
    assert thetas[1] > thetas[0]


def test_evaluator_calibrates_the_gate_it_evaluates(tiny):
    model, processor = tiny
    ev = Evaluator(model, processor, ema_decay=0.1, gate_mode="threshold")
    calib = make_clips(4, ClipSpec(frames=5), seed=1, split="train")
    arch, theta = ev.arch_c(0.25, calib)
    assert arch.gate.config == replace(ev.gate, threshold=theta)
    assert ev.gate.floor_tokens == 4 and ev.gate.ema_decay == 0.1


@pytest.mark.parametrize("mode", ["budget", "threshold"])
def test_evaluator_variant_rows(tiny, clips, mode):
    model, processor = tiny
    ev = Evaluator(model, processor, ema_decay=0.1, gate_mode=mode)
    calib = make_clips(4, ClipSpec(frames=5), seed=1, split="train")
    with torch.inference_mode():
        result = ev.variant(clips, [0.25], calib)
    row = result["rows"][0]
    assert set(row) >= {"keep_target", "threshold", "arch_c", "random", "paired"}
    assert row["arch_c"]["keep_count_per_frame"] == pytest.approx(
        row["random"]["keep_count_per_frame"]
    )
    if mode == "budget":
        assert row["arch_c"]["keep_count_per_frame"] == 16 and row["threshold"] is None
    else:
        assert 0 <= row["threshold"] <= 2
    assert len(result["hits"]["dense"]) == len(clips)
    with pytest.raises(ValueError, match="gate_mode"):
        Evaluator(model, processor, gate_mode="topk")


def test_report_cli_writes_json(tiny, tmp_path):
    model, processor = tiny
    save_model(model, processor, tmp_path / "m", {"note": "tiny"})
    out = tmp_path / "results.json"
    args = ["--model", str(tmp_path / "m"), "--out", str(out), "--clips", "4", "--frames", "4"]
    args += ["--variants", "moving", "change", "--keeps", "0.2", "--threads", "1"]
    args += ["--gate-mode", "budget", "threshold", "--ema-decay", "0.1", "0.5"]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["modes"]) == {"budget", "threshold"}
    assert report["ema_decay"] in (0.1, 0.5) and set(report["ema_selection"]) == {"0.1", "0.5"}
    block = report["modes"]["threshold"]
    assert set(block["results"]) == {"moving", "change"}
    pooled = block["pooled"]["all"][0]
    assert pooled["paired"]["n"] == 8 and 0 <= pooled["arch_c_clip_acc"] <= 1
    assert block["pooled"]["motion"][0]["paired"]["n"] == 4
    hits = block["results"]["change"]["hits"]
    assert set(hits) == {"dense", "arch_c@0.2", "random@0.2"} and len(hits["dense"]) == 4
    assert "| keep |" in summary_table(report) and np.isfinite(report["seconds"])
