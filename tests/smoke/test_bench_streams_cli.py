"""neuroflow-bench-streams end to end: tiny SigLIP at 32 px on the street clip, 1 and 2 streams."""

from __future__ import annotations

import csv
import json
import sys

import pytest

from neuroflow.cli.bench_streams import main
from tests.smoke.commands import command

FAST = [
    "model.source=tiny-siglip",
    "model.threads=1",
    "resolution=32",
    "streams=[1,2]",
    "frames=6",
    "warmup=1",
    "logger=none",
]


def test_the_installed_script_writes_results_tables_and_plots(tmp_path):
    run_dir = tmp_path / "run"
    result = command("neuroflow-bench-streams", [*FAST, f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "results.json").read_text())
    assert {"identity", "meta", "rows", "calibration"} <= set(summary)
    methods = [(r["streams"], r["method"]) for r in summary["rows"]]
    assert methods == [(s, m) for s in (1, 2) for m in ("dense_batched", "engine", "loop_C")]
    assert summary["identity"]["benchmark"] == "streams" and summary["identity"]["identity_key"]
    assert summary["meta"]["video"] == "bikes" and summary["meta"]["resolution"] == 32
    assert all(c["keep_equal"] for c in summary["meta"]["verify"])
    with (run_dir / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and float(rows[1]["fps"]) > 0 and rows[1]["k_within_0.02"] == "True"
    assert len((run_dir / "calibration.csv").read_text().strip().splitlines()) == 1 + 1 + 2
    for name in ("resolved_config.yaml", "fps_vs_streams.png", "k_spread.png"):
        assert (run_dir / name).is_file(), name
    assert "engine vs loop" in result.stdout


@pytest.mark.parametrize(
    ("arg", "message", "ran"),
    [
        ("frames=abc", "(key: frames)", False),  # the schema rejects it before the run
        ("+foo=1", "foo", False),
        ("calibration=guess", "calibration must be one of", True),  # checked first in the run
    ],
)
def test_bad_command_lines_print_one_error_line_and_exit_2(
    tmp_path, monkeypatch, capsys, arg, message, ran
):
    argv = ["neuroflow-bench-streams", arg, "logger=none", f"hydra.run.dir={tmp_path}/r"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert stop.value.code == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "r" / "results.json").exists()
    assert (tmp_path / "r").exists() == ran
