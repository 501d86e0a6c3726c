"""neuroflow-baselines end to end on the shipped mini SigLIP: a few clips, two methods."""

from __future__ import annotations

import csv
import json

import pytest
from hydra.core.hydra_config import HydraConfig

from neuroflow.cli.baselines import run
from tests.confs import compose_config
from tests.smoke.commands import command

FAST = [
    "methods=[C,random_C]",
    "variants=[moving]",
    "keeps=[0.35]",
    "clips=8",
    "calibration_clips=4",
    "frames=4",
    "threads=1",
]


def test_the_installed_script_writes_results_tables_and_the_plot(tmp_path, capsys):
    run_dir = tmp_path / "run"
    result = command("neuroflow-baselines", [*FAST, f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "results.json").read_text())
    assert summary["identity"]["command"] == "neuroflow-baselines"
    assert summary["identity"]["weights_sha256"]
    assert [r["method"] for r in summary["rows"]] == ["dense", "C", "random_C"]
    with (run_dir / "results.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 3
    for name in ("resolved_config.yaml", "results.md", "accuracy_vs_keep.png", "rows.jsonl"):
        assert (run_dir / name).is_file(), name
    assert "moving clips" in result.stdout and "random_C" in result.stdout
    # Resume in-process (the script's start-up is tested above): nothing is recomputed.
    cfg = compose_config("baselines", FAST, run_dir)
    HydraConfig.instance().set_config(cfg)
    before = (run_dir / "rows.jsonl").read_text()
    assert run(cfg, run_dir) == 3
    assert "3 rows already done" in capsys.readouterr().out
    assert (run_dir / "rows.jsonl").read_text() == before


def test_the_staleness_ablation_adds_goals_and_speed(tmp_path, capsys):
    from tests.unit.bench.conftest import write_clip

    run_dir = tmp_path / "ablation"
    overrides = [
        "experiment=staleness_ablation",
        *FAST,
        "methods=[C,E,'C:refresh_signal=drift;refresh_trigger=0.6;refresh_response=keyframe']",
        "variants=[change]",
        "speed.model=tiny-siglip",
        "speed.resolution=32",
        f"speed.video={write_clip(tmp_path / 'clip.mp4')}",
        "speed.start=0",
        "speed.frames=3",
        "speed.warmup=1",
        "speed.variant=change",
    ]
    cfg = compose_config("baselines", [*overrides[:-1], "speed.variant=moving"], run_dir)
    with pytest.raises(ValueError, match="speed.variant 'moving' is not among"):
        run(cfg, run_dir)
    cfg = compose_config("baselines", overrides, run_dir)
    HydraConfig.instance().set_config(cfg)
    assert run(cfg, run_dir) == 4
    summary = json.loads((run_dir / "results.json").read_text())
    assert [g["method"] for g in summary["goals"]] == [r["method"] for r in summary["rows"][1:]]
    timed = {r["method"] for r in summary["rows"][1:] if r["status"] == "ok"}  # reachable ones
    assert {"C", "E"} <= timed and {s["method"] for s in summary["speed"]} == timed
    assert all("calibrated_acc" in r for r in summary["rows"] if r["status"] == "ok")
    text = (run_dir / "results.md").read_text()
    assert "### Goals" in text and "### Speed: tiny-siglip" in text
    assert (run_dir / "speed.csv").is_file()
    assert "best retention" in capsys.readouterr().out
