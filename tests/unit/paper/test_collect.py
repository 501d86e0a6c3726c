import json
from pathlib import Path

import pytest
import yaml

from neuroflow.paper.collect import collect, kind_of
from neuroflow.paper.coverage import item
from tests.unit.paper import fakes

ROOT = Path(__file__).resolve().parents[3]


def _read(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def test_kind_of_tells_every_format_apart(tmp_path):
    writers = {
        "eval": lambda p: fakes.eval_run(p, 0.8),
        "bench": lambda p: fakes.bench_run(p, [fakes.bench_row(224, "dense", 1.0, 1.0)]),
        "analysis": fakes.analysis_run,
        "baselines": fakes.baselines_run,
        "distill": fakes.distill_run,
        "llm": fakes.llm_run,
        "glyphs": fakes.glyph_run,
    }
    found = {kind: kind_of(_read(write(tmp_path / kind))) for kind, write in writers.items()}
    assert found == {kind: kind for kind in writers}
    assert kind_of({"rows": [], "identity": {"benchmark": "streams"}, "meta": {}}) is None
    assert kind_of({"something": "else"}) is None
    # A baselines run with goals is an ablation beyond the paper, kept out of its tables.
    ablation = {**_read(tmp_path / "baselines"), "goals": [{"variant": "change"}]}
    assert kind_of(ablation) == "ablation"


def test_collect_reads_every_kind_below_several_folders(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    fakes.eval_run(first / "eval" / "run1", 0.8)
    fakes.analysis_run(first / "analyze")
    fakes.baselines_run(second / "baselines")
    fakes.baselines_speed_run(second / "baselines" / "speed")
    fakes.distill_run(second / "distill")
    fakes.llm_run(second / "llm")
    fakes.glyph_run(second / "glyphs")
    c = collect([str(second), str(first)])
    assert c.roots == sorted([str(first), str(second)])
    assert sorted(r.kind for r in c.runs) == sorted(
        ["eval", "analysis", "baselines", "bench", "distill", "llm", "glyphs"]
    )
    assert list(c.eval.index) == [str(first / "eval" / "run1")]
    assert c.eval["sparse_top1"].tolist() == [0.8]
    assert set(c.bench["method"]) == {"dense", "C", "random_C", "frame_reuse"}
    assert set(c.llm) == {"llm_similarity", "llm_perplexity", "llm_drift"}
    assert c.baselines["status"].tolist().count("ok") == 4  # the unreachable ToMe row is kept
    assert c.baselines.set_index("method").loc["random_C", "minus_c"] == -0.25
    gap = c.table("representation_gap")
    assert gap["gap"].tolist() == [0.95, 0.0]
    assert c.table("degradation_law").attrs["fit"]["slope"] == 1.0
    assert c.table("saturation_law") is None


def test_collect_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect([str(tmp_path / "nowhere")])


def _wandb_config() -> dict:
    return {
        "arch": {"_target_": "neuroflow.archs.make_arch", "name": "B"},
        "gate": {"threshold": 0.35, "ema_decay": 0.01},
        "model": {"source": "mini_siglip"},
        "dataset": {"size": 8},
    }


SUMMARY = {
    "clips": 8,
    "dense/top1": 1.0,
    "sparse/top1": 0.625,
    "sparse/top3": 0.875,
    "dense/top3": 1.0,
    "skip_rate": 0.86,
    "fidelity": 0.4,
    "walltime_ratio": 1.2,
}


def test_wandb_offline_run_from_its_transaction_log(tmp_path):
    runs = tmp_path / "wandb"
    fakes.wandb_log(runs / "offline-run-1-abc" / "run-abc.wandb", _wandb_config(), SUMMARY)
    (runs / "offline-run-1-abc" / "files").mkdir()
    (tmp_path / "empty").mkdir()
    c = collect([str(tmp_path / "empty")], wandb_dir=runs)
    row = c.eval.iloc[0]
    assert (row["arch"], row["threshold"], row["sparse_top1"], row["skip_rate"]) == (
        "B",
        0.35,
        0.625,
        0.86,
    )
    assert c.eval.index[0].endswith("offline-run-1-abc")


def test_wandb_synced_run_from_its_summary_files(tmp_path):
    files = tmp_path / "wandb" / "run-2-def" / "files"
    files.mkdir(parents=True)
    config = {k: {"value": v} for k, v in _wandb_config().items()}
    config["_wandb"] = {"value": {"job_type": "eval"}}
    (files / "config.yaml").write_text(yaml.safe_dump(config))
    (files / "wandb-summary.json").write_text(json.dumps(SUMMARY))
    (tmp_path / "empty").mkdir()
    c = collect([str(tmp_path / "empty")], wandb_dir=tmp_path / "wandb")
    assert c.eval["sparse_top3"].tolist() == [0.875]
    assert c.eval["walltime_ratio"].tolist() == [1.2]


def test_wandb_run_of_a_collected_run_directory_is_read_once(tmp_path):
    run = fakes.eval_run(tmp_path / "runs" / "r1", 0.8)
    fakes.wandb_log(run / "wandb" / "offline-run-3-ghi" / "run-ghi.wandb", _wandb_config(), SUMMARY)
    (run / "wandb" / "offline-run-3-ghi" / "files").mkdir()
    c = collect([str(tmp_path / "runs")], wandb_dir=run / "wandb")
    assert c.eval["sparse_top1"].tolist() == [0.8]


def test_committed_experiments_are_read():
    c = collect([str(ROOT / "experiments")])
    kinds = {r.kind for r in c.runs}
    assert {"baselines", "bench", "distill", "llm", "glyphs"} <= kinds
    # The committed distillation: Arch B 0.405 -> 0.900 at the max-sparse point, dense 1.0 -> 0.995.
    text = item("T13").our_numbers(c)
    assert "40.5% -> 90.0%" in text and "100.0% -> 99.5%" in text


def test_a_segment_run_fills_the_segmentation_row(tmp_path):
    summary = {
        "cluster_accuracy": 0.75,
        "graded_clusters": 8,
        "frame_accuracy": 1.0,
        "clusters_per_frame": 1.5,
    }
    data = {"identity": {"kind": "segment"}, "summary": summary}
    assert kind_of(data) == "segment"
    (tmp_path / "seg").mkdir()
    (tmp_path / "seg" / "results.json").write_text(json.dumps(data))
    text = item("X2").our_numbers(collect([tmp_path]))
    assert "75.0% of 8 clusters (whole frame 100.0%)" in text and "1.50 clusters" in text
