"""A 2-job neuroflow-eval sweep ends with one summary table, its CSV and its plot."""

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.smoke.commands import FAST as TINY_EVAL

FAST = [*TINY_EVAL, "logger=none"]


def test_sweep_writes_summary_csv_and_accuracy_plot(tmp_path):
    sweep = tmp_path / "sweep"
    script = Path(sys.executable).with_name("neuroflow-eval")
    args = [str(script), "-m", *FAST, "gate.threshold=0.05,0.3", f"hydra.sweep.dir={sweep}"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with (sweep / "sweep_summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["job"] for r in rows) == ["gate.threshold=0.05", "gate.threshold=0.3"]
    assert {r["status"] for r in rows} == {"ok"}
    assert all(r["method"].startswith("Arch C θ=") for r in rows)
    assert (sweep / "accuracy_vs_keep.png").stat().st_size > 1000
    assert done.stdout.count("sweep summary: 2 jobs") == 1
