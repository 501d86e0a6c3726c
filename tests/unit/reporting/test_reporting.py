import json
import subprocess
import sys
from pathlib import Path

import pytest

from neuroflow.identity import bench_identity, run_identity
from neuroflow.reporting import collect_bench, collect_runs, collect_tables, write_tables

ROOT = Path(__file__).resolve().parents[3]


def eval_config(**changes) -> dict:
    """A resolved eval config as run_eval hands it over, with dotted-key changes."""
    config = {
        "arch": {"_target_": "neuroflow.archs.make_arch", "name": "C"},
        "gate": {"_target_": "GateConfig", "threshold": 0.2, "ema_decay": 0.01},
        "schedule": {"_target_": "neuroflow.core.schedules.Constant"},
        "cache": {"_target_": "CorticalCache", "mode": "hard", "alpha": 0.01},
        "dataset": {"_target_": "neuroflow.lit.datasets.MovingGlyphs", "size": 200, "seed": 0},
        "model": {"source": "m", "dtype": "float32"},
        "prompts": {"templates": ["the digit {}."]},
        "aggregation": "mean",
        "seed": 0,
    }
    for dotted, value in changes.items():
        group, key = dotted.split(".")
        config[group] = value if key == "*" else {**config[group], key: value}
    return config


def fake_run(path: Path, sparse: float, dense: float = 0.8, identity=None, **changes) -> None:
    path.mkdir(parents=True)
    results = {
        "clips": 10,
        "dense": {"top1": {"acc": dense}, "top3": {"acc": 1.0}},
        "sparse": {"top1": {"acc": sparse, "ci_low": 0.1, "ci_high": 0.9}, "top3": {"acc": 0.9}},
        "retention": sparse / dense,
        "mcnemar": {"pvalue": 0.5},
        "fidelity": 0.9,
        "skip_rate": 0.8,
        "skip_rate_after_first": 0.85,
        "speedup": 2.0,
        "identity": identity or run_identity(eval_config(**changes)),
    }
    (path / "results.json").write_text(json.dumps(results))


def fake_bench(path: Path, model: str = "random:siglip-b16", speedups=(1.0, 3.0)) -> None:
    path.mkdir(parents=True)
    settings = {"model": model, "dtype": "float32", "device": "cpu", "resolutions": [224]}
    settings |= {"methods": ["dense", "C"], "target_keep": [0.17], "streams": [1]}
    meta = {"random_weights": True, "cpu": "x86", "torch": "2.13"}
    rows = [
        {"resolution": 224, "streams": 1, "target_keep": 0.17, "method": m, "threshold": 0.3,
         "k": k, "ms_median": 100 / s, "speedup": s, "ceiling": 5.0, "of_ceiling": s / 5}
        for m, k, s in zip(["dense", "C"], [1.0, 0.17], speedups, strict=True)
    ]  # fmt: skip
    results = {"identity": bench_identity(meta, settings), "meta": meta, "rows": rows}
    (path / "results.json").write_text(json.dumps(results))


def test_runs_differing_only_in_schedule_get_their_own_rows(tmp_path):
    target_keep = {"_target_": "neuroflow.core.schedules.TargetKeep", "target": 0.2, "gain": 0.5}
    fake_run(tmp_path / "constant", 0.7)
    fake_run(tmp_path / "target_keep", 0.6, **{"schedule.*": target_keep})
    frame = collect_runs(tmp_path)
    assert frame["schedule"].tolist() == ["Constant", "TargetKeep"]
    assert frame["schedule.target"].tolist()[1] == 0.2 and frame["runs"].tolist() == [1, 1]
    assert frame["threshold"].tolist() == [0.2, 0.2]  # the old columns alone could not tell


def test_runs_differing_only_in_dataset_size_get_their_own_rows(tmp_path):
    fake_run(tmp_path / "a", 0.7, **{"dataset.size": 200})
    fake_run(tmp_path / "b", 0.6, **{"dataset.size": 900})
    frame = collect_runs(tmp_path)
    assert frame["dataset.size"].tolist() == [200, 900]
    assert frame["dataset"].tolist() == ["MovingGlyphs", "MovingGlyphs"]
    assert "dataset.seed" not in frame  # equal everywhere: no column


def test_reruns_of_one_identity_share_a_row(tmp_path):
    fake_run(tmp_path / "first", 0.6)
    fake_run(tmp_path / "again", 0.7)  # same config, later commit/time: the same experiment
    fake_run(tmp_path / "other", 0.5, **{"gate.threshold": 0.35})
    frame = collect_runs(tmp_path)
    assert list(frame.index) == ["again", "other"] and frame["runs"].tolist() == [2, 1]
    assert frame.loc["again", "sparse_top1"] == pytest.approx(0.65)
    assert frame["gap_pp"].round(6).tolist() == [15.0, 30.0]


def test_results_from_before_identities_are_one_row_each(tmp_path):
    for name, threshold in (("x", 0.1), ("y", 0.1)):
        fake_run(tmp_path / name, 0.7)
        path = tmp_path / name / "results.json"
        data = json.loads(path.read_text())
        del data["identity"]
        data["config"] = {"model": "m", "arch": "C", "threshold": threshold, "ema_decay": 0.01}
        path.write_text(json.dumps(data))
    frame = collect_runs(tmp_path)
    assert frame["runs"].tolist() == [1, 1] and frame["threshold"].tolist() == [0.1, 0.1]


def test_bench_runs_get_their_own_table(tmp_path):
    fake_run(tmp_path / "eval", 0.7)
    fake_bench(tmp_path / "bench_random")
    fake_bench(tmp_path / "bench_tiny", model="tiny-siglip", speedups=(1.0, 2.0))
    (tmp_path / "glyphs").mkdir()
    (tmp_path / "glyphs" / "results.json").write_text(json.dumps({"variants": {}}))
    tables = collect_tables(tmp_path)
    assert sorted(tables) == ["bench", "eval"] and len(tables["eval"]) == 1
    bench = collect_bench(tmp_path)
    assert bench["model"].tolist() == ["random:siglip-b16"] * 2 + ["tiny-siglip"] * 2
    assert bench["method"].tolist() == ["dense", "C"] * 2
    assert bench["speedup"].tolist() == [1.0, 3.0, 1.0, 2.0] and set(bench["runs"]) == {1}


def test_write_tables(tmp_path):
    fake_run(tmp_path / "runs" / "a", 0.7)
    paths = write_tables(collect_runs(tmp_path / "runs"), tmp_path / "out", "t6")
    assert all(p.is_file() for p in paths) and "\\begin{tabular}" in paths[2].read_text()


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no evaluation results.json"):
        collect_runs(tmp_path)
    fake_bench(tmp_path / "bench")
    with pytest.raises(FileNotFoundError, match="no evaluation results.json"):
        collect_runs(tmp_path)


def make_tables(*args: str) -> subprocess.CompletedProcess:
    script = ROOT / "paper" / "make_tables.py"
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=300
    )


def test_make_tables_writes_eval_and_bench_tables(tmp_path):
    fake_run(tmp_path / "runs" / "eval", 0.7)
    fake_bench(tmp_path / "runs" / "bench")
    done = make_tables(str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--name", "t")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "t.csv").is_file() and (tmp_path / "out" / "t_bench.md").is_file()


def test_make_tables_on_nothing_is_one_error_line(tmp_path):
    done = make_tables(str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: no evaluation, benchmark or llm results.json")


def fake_llm(path: Path, source: str, ppl: float) -> None:
    from neuroflow.identity import llm_identity

    identity = llm_identity({"lm": {"source": source}, "thresholds": [0.65]})
    rows = [
        {"status": "ok", "domain": "code", "config": "dense", "ppl": ppl},
        {"status": "not run", "domain": "code", "config": "inverted", "reason": "layer 0"},
    ]
    path.mkdir(parents=True)
    (path / "results.json").write_text(
        json.dumps({"identity": identity, "tables": {"perplexity": rows}})
    )


def test_llm_runs_get_one_table_per_study_table(tmp_path):
    fake_llm(tmp_path / "a", "mini_lm", 5.0)
    fake_llm(tmp_path / "b", "tiny-gpt2", 200.0)
    fake_run(tmp_path / "eval", 0.7)
    tables = collect_tables(tmp_path)
    assert set(tables) == {"eval", "llm_perplexity"}
    frame = tables["llm_perplexity"]
    assert list(frame["model"]) == ["mini_lm", "mini_lm", "tiny-gpt2", "tiny-gpt2"]
    assert list(frame["ppl"].dropna()) == [5.0, 200.0]
    assert list(frame["status"]) == ["ok", "not run"] * 2 and "reason" in frame
