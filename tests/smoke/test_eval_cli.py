"""neuroflow-eval end to end on the tiny model and a few synthetic glyph clips."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from neuroflow.lit.run_eval import run_eval
from tests.confs import compose_eval
from tests.smoke.commands import FAST, command


def run_in_process(tmp_path: Path, overrides: list[str]) -> float:
    cfg = compose_eval(FAST + overrides, tmp_path)
    HydraConfig.instance().set_config(cfg)
    return run_eval(cfg, tmp_path)


def test_eval_writes_results_config_and_clip_table(tmp_path):
    top1 = run_in_process(tmp_path, ["logger=none"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["clips"] == 4 and results["sparse"]["top1"]["acc"] == top1
    assert 0 < results["keep_fraction"] <= 1 and results["skipped"] == []
    assert (tmp_path / "resolved_config.yaml").read_text().count("${") == 0
    assert len((tmp_path / "clips.csv").read_text().strip().splitlines()) == 5


def test_finished_run_is_skipped_on_resume(tmp_path):
    run_in_process(tmp_path, ["logger=none"])
    before = (tmp_path / "results.json").stat().st_mtime_ns
    run_in_process(tmp_path, ["logger=none", "gate.threshold=0.9"])
    assert (tmp_path / "results.json").stat().st_mtime_ns == before


def test_wandb_offline_run_holds_the_logged_tables(tmp_path, monkeypatch):
    from PIL import Image

    from tests.unit.reporting.wandb_files import read_offline_run

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    Image.new("RGB", (4, 4)).save(tmp_path / "keep_hist.png")  # any figure of the run dir goes up
    run_in_process(tmp_path, ["logger=wandb", "logger.mode=offline", "logger.group=g1"])
    run_dirs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 1
    run = read_offline_run(run_dirs[0])
    tables = run.tables()
    assert sorted(tables) == ["clips", "clips_frames", "per_class", "summary"], sorted(tables)
    clips = tables["clips"]
    assert len(clips["data"]) == 4 and "fidelity" in clips["columns"]
    keep = clips["columns"].index("frame_keep")
    assert all(len(row[keep]) == 3 and 0 < row[keep][0] <= 1 for row in clips["data"])
    frames = tables["clips_frames"]
    assert frames["columns"] == ["clip_id", "frame", "keep", "fidelity"]
    assert len(frames["data"]) == 4 * 3 and all(isinstance(r[2], float) for r in frames["data"])
    per_class = tables["per_class"]
    assert per_class["columns"][:4] == ["class", "n", "dense_top1", "sparse_top1"]
    assert sum(r[1] for r in per_class["data"]) == 4
    results = json.loads((tmp_path / "results.json").read_text())
    for key, value in {
        "dense/top1": results["dense"]["top1"]["acc"],
        "sparse/top3": results["sparse"]["top3"]["acc"],
        "retention": results["retention"],
        "fidelity": results["fidelity"],
        "mcnemar_p": results["mcnemar"]["pvalue"],
        "skip_rate": results["skip_rate"],
    }.items():
        # NaN (retention when dense gets nothing right) is null in both results.json and W&B.
        assert run.summary[key] == (None if value is None else pytest.approx(value)), key
    assert run.images() == ["keep_hist"]
    assert run.name == "eval Arch C θ=0.20 α=0.01 hard cache tiny-siglip moving_glyphs", run.name
    assert run.group == "g1" and run.job_type == "eval"


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return command("neuroflow-eval", args, cwd)


def test_multirun_threshold_sweep_one_result_per_job_and_resume(tmp_path):
    args = [
        "-m",
        *FAST,
        "logger=none",
        "gate.threshold=0.05,0.3",
        f"hydra.sweep.dir={tmp_path}/sweep",
    ]
    first = cli(args, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    results = sorted((tmp_path / "sweep").glob("*/results.json"))
    assert len(results) == 2
    keeps = [json.loads(p.read_text())["keep_fraction"] for p in results]
    assert keeps[0] != keeps[1]
    stamps = [p.stat().st_mtime_ns for p in results]
    second = cli(args, tmp_path)
    assert second.returncode == 0 and "skipping (resume)" in second.stdout + second.stderr
    assert [p.stat().st_mtime_ns for p in results] == stamps


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model=siglip_base_p16_224", "hf download"),
        ("dataset=ucf101 paths.data_dir=/nonexistent", "UCF-101"),
    ],
)
def test_bad_input_gives_one_clear_error(tmp_path, override, message):
    result = cli(
        [*FAST, "logger=none", *override.split(), f"hydra.run.dir={tmp_path}/run"], tmp_path
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


MAINS = {"neuroflow-eval": "neuroflow.cli.eval", "neuroflow-bench": "neuroflow.cli.bench"}


@pytest.mark.parametrize(
    ("name", "arg", "key"),
    [
        ("neuroflow-eval", "gate.treshold=0.1", "gate.treshold"),
        ("neuroflow-eval", "+foo=1", "foo"),
        ("neuroflow-eval", "experiment=no_such_table", "experiment/no_such_table"),
        ("neuroflow-eval", "arch.dense_layer=2", "arch.dense_layer"),
        (
            "neuroflow-eval",
            "gate.threshold=abc",
            "could not be converted to Float (key: gate.threshold)",
        ),
        ("neuroflow-bench", "round_frames=abc", "round_frames"),
    ],
)
def test_bad_command_lines_print_one_error_line_and_exit_2(
    tmp_path, monkeypatch, capsys, name, arg, key
):
    main = importlib.import_module(MAINS[name]).main  # the console script's own function
    monkeypatch.setattr(sys, "argv", [name, arg, f"hydra.run.dir={tmp_path}/run"])
    with pytest.raises(SystemExit) as stop:
        main()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert stop.value.code == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], lines
    assert not (tmp_path / "run").exists()  # nothing ran


def test_the_installed_script_prints_one_error_line_and_exits_2(tmp_path):
    result = command(
        "neuroflow-bench", ["round_frames=abc", f"hydra.run.dir={tmp_path}/r"], tmp_path
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert lines == [
        "error: Error merging override round_frames=abc: Value 'abc' of type 'str' could not be "
        "converted to Integer (key: round_frames)"
    ]
