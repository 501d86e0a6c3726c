"""neuroflow-analyze end to end on the tiny random SigLIP: every table, files, resume, refusals.

The numbers of a random model mean nothing; what is checked is that every table is made from
the clips asked for, written where the issue says, and not recomputed on resume.
"""

import json
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from neuroflow.analysis.study import TABLES
from neuroflow.cli.analyze import run
from tests.confs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = [
    "model=tiny",
    "logger=none",
    "dataset.size=10",
    "dataset.num_frames=4",
    "batch=5",
    "probe_clips=4",
    "scenes=2",
    "saturation_thresholds=[0.1,0.5]",
    "degradation_sizes=[16,48]",
    "capacity_thresholds=[0.2]",
    "failure_min_clips=1",
]


def _run(run_dir: Path, extra: list[str] = ()) -> dict:
    cfg = compose_config("analyze", [*TINY, *extra], run_dir)
    HydraConfig.instance().set_config(cfg)
    return run(cfg, run_dir)


def test_every_table_is_written_and_a_resume_recomputes_nothing(tmp_path, capsys, monkeypatch):
    counts = _run(tmp_path)
    assert list(counts) == list(TABLES)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["kind"] == "analysis" and results["clips"] == 10
    assert results["identity"]["model"]["source"] == "tiny-siglip"
    tables = results["tables"]
    for name in TABLES:
        assert (tmp_path / f"{name}.csv").is_file()
        assert f"`{name}`" in (tmp_path / "results.md").read_text()
    # Table shapes follow the settings: 2 layers + input, 3 conditions, one row per setting.
    assert [r["layer"] for r in tables["representation_gap"]] == [0, 1, 2]
    assert {r["condition"] for r in tables["map_entropy"]} == {
        "dense",
        "sparse_no_cache",
        "arch_c",
    }
    assert [r["label"] for r in tables["saturation_law"]] == ["θ=0.1", "θ=0.5"]
    assert [r["side"] for r in tables["degradation_law"]] == [16, 48]
    assert [r["stretch"] for r in tables["degradation_law"]] == [0.5, 1.5]
    assert "slope" in results["fits"]["degradation_law"]["fit"]
    assert {(r["dataset"], r["truth"]) for r in tables["gate_quality"]} == {
        ("moving_glyphs", "motion"),
        ("moving_glyphs", "changed"),
        ("synthetic_scenes", "motion"),
    }
    # Every clip is counted once per quartile measure, in a bin or as dropped (no motion).
    dropped = results["fits"]["failure_quartiles"]["dropped"]
    for measure in ("flow_px_per_frame", "centroid_displacement"):
        rows = [r for r in tables["failure_quartiles"] if r["measure"] == measure]
        assert sum(r["clips"] for r in rows) + dropped[measure] == 10
    assert sum(r["clips"] for r in tables["failure_classes"]) == 10
    for figure in ("degradation_law", "saturation_law", "failure_quartiles", "gate_quality"):
        assert (tmp_path / f"{figure}.png").stat().st_size > 1000
    assert "run directory:" in capsys.readouterr().out

    # Resume: nothing is recomputed (the study's tables would fail if called).
    from neuroflow.analysis import study

    monkeypatch.setattr(study.AnalysisStudy, "hits", lambda *a, **k: pytest.fail("recomputed"))
    monkeypatch.setattr(study.AnalysisStudy, "_probe", lambda *a, **k: pytest.fail("recomputed"))
    assert _run(tmp_path) == counts
    assert "resuming" in capsys.readouterr().out


def test_a_resume_with_other_settings_is_refused(tmp_path):
    _run(tmp_path, ["tables=[representation_gap]"])
    with pytest.raises(ValueError, match="other settings"):
        _run(tmp_path, ["tables=[representation_gap]", "gate.threshold=0.3"])


def test_unknown_tables_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown analysis tables"):
        _run(tmp_path, ["tables=[no_such_table]"])
