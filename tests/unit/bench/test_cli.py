"""``neuroflow-bench`` wiring: config -> settings, files in the run dir, W&B only when enabled."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from neuroflow.bench import BenchSettings
from neuroflow.cli.bench import run, settings_from
from neuroflow.cli.schemas import BENCH_MODEL_KEYS, BenchSchema
from tests.confs import compose_config


def bench_cfg(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    return compose_config("bench", overrides, output_dir)


def test_defaults_map_onto_settings():
    settings = settings_from(bench_cfg([]))
    assert settings.model == "random:siglip-b16" and settings.dtype == "float32"
    assert settings.target_keep == [0.17] and settings.gate.mode == "threshold"
    assert settings.methods[0] == "dense" and settings.streams == [1]
    fixed = settings_from(bench_cfg(["target_keep=[]", "gate.threshold=0.2"]))
    assert fixed.target_keep == [] and fixed.gate.threshold == 0.2


def test_every_setting_reaches_the_benchmark():
    """Each BenchSettings field has a config key, each config key a destination (no field can
    be dropped on the way, as round_frames once was)."""
    schema = {f.name for f in dataclasses.fields(BenchSchema)}
    own = {f.name for f in dataclasses.fields(BenchSettings)}
    assert own - set(BENCH_MODEL_KEYS) - {"gate"} <= schema
    assert schema - own <= {"task_name", "plots", "logger", "paths", "verbose"}
    changed = {"round_frames": 3, "stream_offset": 5, "flop_frames": 2, "warmup": 1, "seed": 7}
    settings = settings_from(bench_cfg([f"{k}={v}" for k, v in changed.items()]))
    assert {k: getattr(settings, k) for k in changed} == changed
    assert settings_from(bench_cfg(["model.threads=3"])).threads == 3


def test_bad_gate_settings_are_rejected():
    with pytest.raises(InstantiationException, match="threshold must lie in"):
        settings_from(bench_cfg(["gate.threshold=3.0"]))


def test_run_writes_results_plots_and_no_wandb(tmp_path, clip_path):
    cfg = bench_cfg(
        [
            "model.source=tiny-siglip",
            f"video={clip_path}",
            "start=0",
            "frames=4",
            "warmup=1",
            "resolutions=[32]",
            "methods=[dense,C]",
            "flop_frames=1",
            "target_keep=[0.1]",
            "round_frames=2",
        ],
        tmp_path,
    )
    HydraConfig.instance().set_config(cfg)
    best = run(cfg, tmp_path)
    summary = json.loads((tmp_path / "results.json").read_text())
    rows = summary["rows"]
    assert [r["method"] for r in rows] == ["dense", "C"] and best == rows[1]["speedup"]
    assert summary["meta"]["random_weights"] is True
    assert [len(x["ms"]) for x in summary["samples"]] == [3, 3]  # per-frame raw latencies
    assert summary["meta"]["round_frames"] == 2  # the timing ran in rounds of 2 frames
    for name in (
        "results.csv",
        "gate_overhead.csv",
        "flop_breakdown.csv",
        "resolved_config.yaml",
        "speedup_vs_k.png",
    ):
        assert (tmp_path / name).is_file(), name
    assert not (tmp_path / "wandb").exists()


def test_wandb_offline_gets_the_tables(tmp_path, clip_path, monkeypatch):
    from tests.unit.reporting.wandb_files import read_offline_run

    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = bench_cfg(
        [
            "model.source=tiny-siglip",
            f"video={clip_path}",
            "start=0",
            "frames=3",
            "warmup=0",
            "resolutions=[32]",
            "methods=[dense,B]",
            "flop_frames=1",
            "logger=wandb",
            "logger.mode=offline",
        ],
        tmp_path,
    )
    HydraConfig.instance().set_config(cfg)
    run(cfg, tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    logged = read_offline_run(runs[0])
    tables = logged.tables()
    assert sorted(tables) == ["flop_breakdown", "gate_overhead", "results"], sorted(tables)
    results = tables["results"]
    assert len(results["data"]) == 2 and "of_ceiling" in results["columns"]
    assert "speedup_vs_k" in logged.images()
    assert logged.name == "bench tiny-siglip 32px" and logged.group == "bench"
    assert logged.job_type == "bench" and logged.config["model"]["source"] == "tiny-siglip"
    identity = json.loads((tmp_path / "results.json").read_text())["identity"]
    assert identity["kind"] == "bench" and identity["model"]["random_weights"] is True
    assert identity["resolutions"] == [32] and identity["methods"] == ["dense", "B"]
