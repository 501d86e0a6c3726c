"""The sweep summary reads every job's results.json, lists failed jobs, writes CSV and plot."""

import csv
import json
import time
from pathlib import Path

from omegaconf import OmegaConf

from neuroflow.cli.sweep_summary import CSV_NAME, PLOT_NAME, SweepSummary, summarize_sweep

GATE = {"threshold": 0.2, "ema_decay": 0.01, "mode": "threshold", "keep_fraction": 0.2}


def acc(value: float) -> dict:
    return {"acc": value, "ci_low": max(0.0, value - 0.1), "ci_high": min(1.0, value + 0.1)}


def write_job(sweep: Path, overrides: list[str], results: dict | None, config: dict) -> Path:
    job = sweep / ",".join(overrides)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))
    (job / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(config))
    if results is not None:
        (job / "results.json").write_text(json.dumps(results))
    return job


def eval_job(sweep: Path, threshold: float, keep: float, top1: float, extra: tuple = ()) -> Path:
    gate = dict(GATE, threshold=threshold)
    config = {"arch": {"name": "C"}, "gate": gate, "cache": {"mode": "hard", "alpha": 0.01}}
    results = {
        "clips": 4,
        "dense": {"top1": acc(1.0)},
        "sparse": {"top1": acc(top1)},
        "retention": top1,
        "fidelity": 0.99,
        "keep_fraction": keep,
        "mcnemar": {"a_only": 1, "b_only": 0, "pvalue": 0.5},
        "identity": {"method": {"name": "C"}, "gate": gate, "cache": config["cache"]},
    }
    overrides = ["model=tiny", f"gate.threshold={threshold}", *extra]
    return write_job(sweep, overrides, results, config)


def read_rows(sweep: Path) -> list[dict]:
    with (sweep / CSV_NAME).open() as fh:
        return list(csv.DictReader(fh))


def test_callback_writes_one_row_per_job_and_the_plot(tmp_path, capsys):
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    callback = SweepSummary()
    callback.on_multirun_start(config)
    eval_job(tmp_path, 0.05, 0.6, 1.0)
    eval_job(tmp_path, 0.3, 0.2, 0.75, ["prompts.templates=[a {}]"])
    callback.on_multirun_end(config)
    rows = read_rows(tmp_path)
    assert [r["job"] for r in rows] == [
        "gate.threshold=0.05",
        "gate.threshold=0.3 prompts.templates=[a {}]",  # only what differs between jobs
    ]
    assert [r["method"] for r in rows] == [
        "Arch C θ=0.05 α=0.01 hard cache",
        "Arch C θ=0.30 α=0.01 hard cache",
    ]
    assert [float(r["sparse_top1"]) for r in rows] == [1.0, 0.75]
    assert {r["status"] for r in rows} == {"ok"}
    assert (tmp_path / PLOT_NAME).stat().st_size > 1000
    out = capsys.readouterr().out
    assert "sweep summary: 2 jobs" in out and f"sweep directory: {tmp_path}" in out
    assert "5.00e-01" in out and "prompts.templates=[a {}]" in out


def test_failed_and_resumed_jobs_are_listed_not_fatal(tmp_path, capsys):
    eval_job(tmp_path, 0.05, 0.6, 1.0)
    config = {"arch": {"name": "C"}, "gate": GATE, "cache": {"mode": "hard", "alpha": 0.01}}
    write_job(tmp_path, ["model=tiny", "gate.threshold=0.9"], None, config)  # crashed job
    bench = {"meta": {}, "rows": []}
    write_job(tmp_path, ["frames=4"], bench, {"frames": 4, "gate": GATE})  # not an evaluation
    rows = summarize_sweep(tmp_path, started=time.time() + 60)  # results predate the sweep
    assert rows is not None
    assert [(r["job"], r["status"]) for r in rows] == [
        ("gate.threshold=0.05", "resumed"),
        ("gate.threshold=0.9", "failed"),
    ]
    assert len(read_rows(tmp_path)) == 2
    out = capsys.readouterr().out
    assert "failed" in out and "1 of 2 jobs failed" in out


def test_sweep_that_ended_in_an_error_is_summarised_at_exit(tmp_path):
    eval_job(tmp_path, 0.05, 0.6, 1.0)
    callback = SweepSummary()
    callback.on_multirun_start(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    callback._at_exit()  # what atexit runs when Hydra re-raised a job's error
    assert len(read_rows(tmp_path)) == 1


def test_a_sweep_without_evaluations_writes_nothing(tmp_path):
    write_job(tmp_path, ["frames=4"], {"meta": {}, "rows": []}, {"frames": 4})
    assert summarize_sweep(tmp_path) is None
    assert not (tmp_path / CSV_NAME).exists()
