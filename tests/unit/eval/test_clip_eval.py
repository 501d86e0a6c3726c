import json

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.eval.clip_eval import evaluate_clips
from neuroflow.eval.summary import summarize, summary_rows
from neuroflow.eval.zeroshot import ZeroShotClassifier
from neuroflow.results import RunResults
from tests.helpers import moving_square_clip


@pytest.fixture(scope="module")
def setup():
    tower = load_vision_model("tiny-siglip")
    weights = torch.nn.functional.normalize(torch.randn(5, tower.hidden_size), dim=-1)
    classify = ZeroShotClassifier(weights, tuple("abcde"))
    clips = moving_square_clip(frames=4, batch=3).transpose(0, 1)  # [B, T, 3, H, W]
    return tower, classify, clips


def test_keep_all_sparse_matches_dense(setup):
    tower, classify, clips = setup
    records = evaluate_clips(
        clips,
        torch.tensor([0, 1, 2]),
        ["a", "b", "c"],
        make_arch("dense", tower),
        make_arch("C", tower, mode="budget", keep_fraction=1.0),
        classify,
    )
    for r in records:
        assert r.dense_pred == r.sparse_pred and r.fidelity == pytest.approx(1.0, abs=1e-5)
        assert r.skip_rate == pytest.approx(0.0)


def arch_c_records(setup, **kwargs):
    """Dense vs Arch C (θ=0.01) records of the three test clips."""
    tower, classify, clips = setup
    dense, sparse = make_arch("dense", tower), make_arch("C", tower, threshold=0.01)
    labels = torch.tensor([0, 1, 2])
    return evaluate_clips(clips, labels, ["a", "b", "c"], dense, sparse, classify, **kwargs)


def test_sparse_records_and_summary_files(setup, tmp_path):
    records = arch_c_records(setup)
    assert all(0 < r.skip_rate < 1 for r in records)
    assert all(r.frame_keep[0] == 1.0 for r in records)  # dense first frame
    assert all(r.skip_rate_after_first > r.skip_rate for r in records)
    summary = summarize(records)
    assert summary["clips"] == 3 and 0 < summary["fidelity"] <= 1
    sink = RunResults(tmp_path)
    sink.add_table("clips", [r.row() for r in records])
    sink.add_table("summary", summary_rows(summary))
    sink.write(summary)
    assert sink.is_done()
    loaded = json.loads((tmp_path / "results.json").read_text())
    assert loaded["clips"] == 3 and (tmp_path / "clips.csv").read_text().count("\n") == 4


def test_summarize_rejects_empty():
    with pytest.raises(ValueError, match="no clips"):
        summarize([])


def test_recovery_lands_in_rows_and_counts(setup, tmp_path):
    from neuroflow.eval.summary import recovery_counts

    recoveries = ["repeat_last:3;gray_to_rgb:gray", "", "repeat_last:1"]
    records = arch_c_records(setup, recoveries=recoveries)
    assert [r.recovery for r in records] == recoveries
    assert recovery_counts(records) == {"gray_to_rgb": 1, "repeat_last": 2}
    sink = RunResults(tmp_path)
    sink.add_table("clips", [r.row() for r in records])
    header, first, second, _ = (tmp_path / "clips.csv").read_text().splitlines()
    assert header.split(",")[-1] == "recovery" and first.endswith(",repeat_last:3;gray_to_rgb:gray")
    assert second.endswith(",")  # no recovery: an empty cell, never a missing column
    assert len(records) == setup[2].shape[0]  # one record per clip served


def test_recoveries_must_match_the_clips(setup):
    tower, classify, clips = setup
    with pytest.raises(ValueError, match="2 recoveries for 3 clips"):
        evaluate_clips(
            clips,
            torch.tensor([0, 1, 2]),
            ["a", "b", "c"],
            make_arch("dense", tower),
            make_arch("dense", tower),
            classify,
            recoveries=["", ""],
        )


def test_default_records_have_no_recovery(setup):
    from neuroflow.eval.summary import recovery_counts

    tower, classify, clips = setup
    dense = make_arch("dense", tower)
    records = evaluate_clips(clips, torch.tensor([0, 1, 2]), list("abc"), dense, dense, classify)
    assert {r.recovery for r in records} == {""} and recovery_counts(records) == {}


def test_batches_pass_each_clips_recovery_and_glyphs_have_none():
    from neuroflow.data import collate_clips
    from neuroflow.data.transforms import FrameTransform
    from neuroflow.lit.datasets import MovingGlyphs
    from neuroflow.lit.zero_shot import batch_recoveries

    glyphs = MovingGlyphs(FrameTransform(16), size=3)
    items = [glyphs[i] for i in range(3)]
    assert all(item["policy"] == {} for item in items)
    assert batch_recoveries(collate_clips(items)) == ["", "", ""]
    batch = {"clip_id": ["x", "y"], "policy": [{"repeat_last": {"added": 2}}, {}]}
    assert batch_recoveries(batch) == ["repeat_last:2", ""]
    assert batch_recoveries({"clip_id": ["x"]}) == [""]  # datasets without a policy key
