from pathlib import Path

import pytest

from neuroflow.cli.paper import main
from neuroflow.paper.collect import Collected, collect
from neuroflow.paper.figures import FIGURES, draw_all
from neuroflow.paper.figures_accuracy import pareto_front, pareto_points, sweep_heatmaps
from neuroflow.paper.plotting import MissingRuns
from tests.unit.paper import fakes

PNG = b"\x89PNG\r\n\x1a\n"


def test_pareto_front_keeps_the_undominated_points_in_x_order():
    # (2, 4) is beaten by (2, 4.5); (3, 1) and (1, 5) stand; the repeated (3, 1) is kept once.
    assert pareto_front([1, 2, 3, 2, 3], [5, 4, 1, 4.5, 1]) == [0, 3, 2]
    assert pareto_front([1.0], [0.0]) == [0]


def test_every_figure_is_skipped_with_a_reason_without_runs(tmp_path):
    drawn = draw_all(Collected(), tmp_path)
    assert set(drawn) == {spec.name for spec in FIGURES}
    assert all(isinstance(reason, str) and reason.startswith("no ") for reason in drawn.values())
    assert not list(tmp_path.glob("*.png"))


def test_pareto_points_join_accuracy_and_speed_at_matched_keep(tmp_path):
    fakes.baselines_run(tmp_path / "baselines")
    fakes.baselines_speed_run(tmp_path / "baselines" / "speed")
    frame, xlabel, ylabel = pareto_points(collect([str(tmp_path)]))
    points = dict(zip(frame["method"], zip(frame["x"], frame["y"], strict=True), strict=True))
    # Frame reuse was timed at k = 0, not at its accuracy run's 0.15: left out.
    assert points == {"dense": (1.0, 100.0), "C": (4.0, 95.0), "random_C": (4.1, 70.0)}
    assert "448 px" in xlabel and "1 points left out" in xlabel and ylabel == "clip top-1 (%)"


def test_sweep_heatmaps_need_two_thresholds_and_two_decays(tmp_path):
    for i, (theta, alpha) in enumerate([(0.1, 0.01), (0.2, 0.01), (0.1, 0.05), (0.2, 0.05)]):
        fakes.eval_run(tmp_path / "grid" / str(i), 0.5 + i / 10, threshold=theta, ema_decay=alpha)
    fakes.eval_run(tmp_path / "line" / "0", 0.5, threshold=0.1)
    fakes.eval_run(tmp_path / "line" / "1", 0.6, threshold=0.2)
    path = sweep_heatmaps(collect([str(tmp_path / "grid")]), tmp_path / "grid.png")
    assert path.read_bytes()[:8] == PNG
    with pytest.raises(MissingRuns, match="two thresholds and two EMA decays"):
        sweep_heatmaps.__wrapped__(collect([str(tmp_path / "line")]), tmp_path / "line.png")
    assert sweep_heatmaps(collect([str(tmp_path / "line")]), tmp_path / "line.png") is None


def _eval_and_bench(tmp_path: Path) -> tuple[Path, Path]:
    evals = tmp_path / "outputs" / "eval" / "runs" / "t1"
    fakes.eval_run(evals, 0.8, image_size=224)
    bench = tmp_path / "outputs" / "bench" / "runs" / "t1"
    rows = [fakes.bench_row(r, m, s, 0.2) for r in (224, 448) for m, s in (("dense", 1), ("C", 3))]
    fakes.bench_run(bench, rows)
    return evals, bench


def test_one_command_from_an_evaluation_and_a_benchmark_run(tmp_path, capsys):
    evals, bench = _eval_and_bench(tmp_path)
    out = tmp_path / "paper"
    assert main([str(evals), str(bench), "--out", str(out)]) == 0
    readme = (out / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| **")]
    assert len(rows) == 27
    filled = [r for r in rows if "no results given" not in r]
    # Eval + bench fill T4, T9, F1, F2 (Arch C at two resolutions), T11 (bench), F3 not (no ToMe).
    assert {r.split("**")[1] for r in filled} == {"T4", "T9", "T11", "F1", "F2"}
    assert f"neuroflow-paper {bench} {evals} --out {out}" in readme
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == [
        "F1_speed_fidelity.png",
        "F2_compute_accuracy.png",
        "pareto_accuracy_speedup.png",
    ]
    for name in ("T4_T9_eval", "bench_speedup", "coverage"):
        assert all((out / "tables" / f"{name}.{ext}").is_file() for ext in ("csv", "md", "tex"))
    assert "Not drawn: no benchmark rows of a ToMe method." in readme
    assert "3 figures" in capsys.readouterr().out


def test_the_report_is_rerunnable_and_deterministic(tmp_path):
    fakes.llm_run(tmp_path / "runs" / "llm")  # tables only: no figure to draw
    fakes.analysis_run(tmp_path / "runs" / "analyze")
    out = tmp_path / "paper"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "old.png").write_bytes(PNG)  # a figure of an earlier report
    assert main([str(tmp_path / "runs"), "--out", str(out)]) == 0
    first = {p.name: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert main([str(tmp_path / "runs"), "--out", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == first
    assert "old.png" not in first and "T1_representation_gap.tex" in first


def test_missing_results_folder_is_one_error_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.startswith("error: results folder")
