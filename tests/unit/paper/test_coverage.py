import re
from pathlib import Path

import pandas as pd
import yaml

from neuroflow.paper.collect import Collected, collect
from neuroflow.paper.coverage import ITEMS, PAPER_IDS, item
from neuroflow.paper.items import NO_RESULTS, OFFLINE
from neuroflow.paper.report import coverage_frame
from tests.unit.paper import fakes

ROOT = Path(__file__).resolve().parents[3]


def test_registry_lists_every_table_and_figure_once_in_paper_order():
    expected = [f"T{n}" for n in range(1, 23)] + ["F1", "F2", "F3"]
    assert list(PAPER_IDS) == expected
    assert [i.id for i in ITEMS] == [*expected, "X1", "X2"]
    for entry in ITEMS:
        assert entry.command.startswith("neuroflow-"), entry.id
        assert entry.offline.startswith("neuroflow-"), entry.id
        assert entry.title and entry.paper and entry.needs, entry.id


def test_commands_name_existing_experiments_and_cover_them():
    shipped = {p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")}
    named = {m for i in ITEMS for m in re.findall(r"experiment=(\w+)", f"{i.command} {i.offline}")}
    assert named <= shipped
    # Every paper experiment file is some row's command (baselines_speed is the CPU table,
    # staleness_ablation goes beyond the paper).
    assert shipped - named == {"baselines_speed", "staleness_ablation"}


def test_analysis_commands_name_tables_the_analysis_makes():
    made = set(yaml.safe_load((ROOT / "conf" / "analyze.yaml").read_text())["tables"])
    asked = set()
    for entry in ITEMS:
        for command in (entry.command, entry.offline):
            for names in re.findall(r"neuroflow-analyze [^&]*'tables=\[([^\]]*)\]'", command):
                asked |= set(names.split(","))
    assert asked == made


def test_no_runs_means_no_results_and_the_paper_setting_needs():
    empty = Collected()
    for entry in ITEMS:
        assert entry.our_numbers(empty) == NO_RESULTS
        assert entry.status(empty) == entry.needs
    assert item("T15").needs.startswith("not reproducible: the race and drone videos")


def test_our_numbers_from_analysis_and_eval_runs(tmp_path):
    fakes.analysis_run(tmp_path / "analyze")
    fakes.eval_run(tmp_path / "e1", 0.7, threshold=0.1, skip=0.5)
    fakes.eval_run(tmp_path / "e2", 0.6, threshold=0.35, skip=0.9)
    fakes.eval_run(tmp_path / "e3", 0.2, threshold=0.35, skip=0.9, arch="B")
    c = collect([str(tmp_path)])
    assert item("T1").our_numbers(c) == "[mini_siglip] gap by layer L0 0.950, L4 0.000"
    assert item("T7").our_numbers(c) == (
        "[mini_siglip] active shift 0.600 +- 0.100, staleness 0.200 +- 0.050, ratio 3.00x, "
        "staleness share 25.0%"
    )
    assert "fit 4.00 + 1.00 max(0, s - 1) pp (R² 1.00, max |residual| 0.00 pp, n=2)" in (
        item("T5").our_numbers(c)
    )
    assert item("T4").our_numbers(c) == (
        "[mini_siglip] dense 90.0%; B θ=0.35: 20.0% at 90.0% skip; "
        "C θ=0.1: 70.0% at 50.0% skip; C θ=0.35: 60.0% at 90.0% skip"
    )
    # Two Arch C thresholds: the saturation row falls back to the evaluation sweep.
    assert (
        item("T6").our_numbers(c).endswith("gap 20.00 to 30.00 pp over 50.0%-90.0% skip (2 runs)")
    )
    assert item("X1").our_numbers(c) == "[mini_siglip] synthetic/motion precision 0.80 recall 0.60"
    assert item("T1").status(c) == f"{OFFLINE}; the paper's setting needs UCF-101 and hub weights"
    assert item("T3").status(c) == "needs UCF-101 and hub weights"


def test_our_numbers_from_bench_baselines_distill_and_llm_runs(tmp_path):
    rows = [
        fakes.bench_row(r, m, s, k)
        for r in (224, 448)
        for m, s, k in (("dense", 1.0, 1.0), ("C", r / 100, 0.2), ("tome_paper:r=8", 1.1, 0.5))
    ]
    fakes.bench_run(tmp_path / "bench", rows)
    fakes.distill_run(tmp_path / "distill")
    fakes.llm_run(tmp_path / "llm")
    c = collect([str(tmp_path)])
    assert item("T11").our_numbers(c) == (
        "[random:siglip-b16] C k=0.2: 224 px 2.24x (k 0.20), 448 px 4.48x (k 0.20)"
    )
    assert "[random:siglip-b16] tome_paper:r=8 k=0.2: 224 px 1.10x, 448 px 1.10x" in (
        item("F3").our_numbers(c)
    )
    assert (
        item("T13")
        .our_numbers(c)
        .startswith(
            "[mini_siglip] Arch B at keep 0.14: top-1 40.0% -> 90.0%; dense 100.0% -> 99.0%"
        )
    )
    assert item("T20").our_numbers(c) == "[mini_lm] median similarity L0 0.57"
    assert item("T21").our_numbers(c) == (
        "[mini_lm] dense PPL 100; dPPL +1.0% to +1.0% at θ >= 0.65 (gate/cache pairs but the "
        "inverted)"
    )
    assert item("T22").our_numbers(c) == "[mini_lm] drift over every setting: prose 70.0%-70.0%"
    assert item("T15").our_numbers(c) == NO_RESULTS  # the bundled clip, not another video


def test_coverage_frame_has_a_command_for_every_row():
    frame = coverage_frame(Collected())
    assert len(frame) == len(ITEMS) == 27
    assert frame["command"].map(bool).all() and frame["offline counterpart"].map(bool).all()
    assert set(frame["ours"]) == {NO_RESULTS}
    assert isinstance(frame, pd.DataFrame)
