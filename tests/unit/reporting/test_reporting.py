import json

import pytest

from neuroflow.reporting import collect_runs, write_tables


def fake_run(path, threshold, dense, sparse):
    path.mkdir(parents=True)
    (path / "results.json").write_text(
        json.dumps(
            {
                "clips": 10,
                "config": {"model": "m", "arch": "C", "threshold": threshold, "ema_decay": 0.01},
                "dense": {"top1": {"acc": dense}, "top3": {"acc": 1.0}},
                "sparse": {
                    "top1": {"acc": sparse, "ci_low": 0.1, "ci_high": 0.9},
                    "top3": {"acc": 0.9},
                },
                "retention": sparse / dense,
                "mcnemar": {"pvalue": 0.5},
                "fidelity": 0.9,
                "skip_rate": 0.8,
                "skip_rate_after_first": 0.85,
                "speedup": 2.0,
            }
        )
    )


def test_collect_runs_and_write_tables(tmp_path):
    fake_run(tmp_path / "sweep" / "gate.threshold=0.1", 0.1, 0.8, 0.7)
    fake_run(tmp_path / "sweep" / "gate.threshold=0.3", 0.3, 0.8, 0.6)
    (tmp_path / "sweep" / "bench").mkdir()
    (tmp_path / "sweep" / "bench" / "results.json").write_text(json.dumps({"rows": []}))
    frame = collect_runs(tmp_path / "sweep")
    assert list(frame["threshold"]) == [0.1, 0.3]
    assert frame["gap_pp"].round(6).tolist() == [10.0, 20.0]
    paths = write_tables(frame, tmp_path / "out", "t6")
    assert all(p.is_file() for p in paths) and "\\begin{tabular}" in paths[2].read_text()


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no evaluation results.json"):
        collect_runs(tmp_path)
