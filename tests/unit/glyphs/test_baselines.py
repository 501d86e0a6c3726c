"""The matched-k comparison: rows, pairing to Arch C, resume, tables and the figure."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from neuroflow.glyphs import baselines as job
from neuroflow.glyphs import baselines_report as report
from neuroflow.glyphs.baselines import CompareSettings, RowStore, compare
from neuroflow.glyphs.report import bits, from_bits

SMALL = CompareSettings(
    methods=("random_C",),
    variants=("moving",),
    keeps=(0.5,),
    clips=6,
    calibration_clips=4,
    frames=4,
    batch=4,
)


def test_bits_round_trip():
    hits = np.array([True, False, False, True])
    assert bits(hits) == "1001" and (from_bits(bits(hits)) == hits).all()


def test_rows_hold_accuracy_keep_flops_and_the_pairing_to_c(tiny, tmp_path):
    rows = compare(*tiny, SMALL, tmp_path)
    assert [(r["method"], r["keep_target"]) for r in rows] == [
        ("dense", None),
        ("C", 0.5),
        ("random_C", 0.5),
    ]
    dense, c, rand = rows
    assert dense["flops_vs_dense"] == 1.0 and len(dense["hits"]) == 6
    for row in (c, rand):
        assert row["status"] == "ok" and row["keep"] == pytest.approx(0.5, abs=1e-6)
        assert 0.3 < row["flops_vs_dense"] < 0.8
        assert row["retention"] == pytest.approx(row["clip_acc"] / dense["clip_acc"])
        assert row["clip_acc_ci95"][0] <= row["clip_acc"] <= row["clip_acc_ci95"][1]
    diff = from_bits(rand["hits"]).mean() - from_bits(c["hits"]).mean()
    assert rand["vs_c"]["diff"] == pytest.approx(diff) and "vs_c" not in c
    assert len((tmp_path / "rows.jsonl").read_text().splitlines()) == 3


def test_an_interrupted_run_resumes_without_rerunning(tiny, tmp_path, monkeypatch):
    first = compare(*tiny, SMALL, tmp_path)
    more = replace(SMALL, keeps=(0.5, 0.25))
    with pytest.raises(ValueError, match="other settings"):
        compare(*tiny, more, tmp_path)
    built = []
    original = job.build_matched
    monkeypatch.setattr(
        job, "build_matched", lambda *a, **k: built.append(a[0]) or original(*a, **k)
    )
    again = compare(*tiny, SMALL, tmp_path)
    assert built == [] and again == first
    store = RowStore(tmp_path / "rows.jsonl", SMALL)
    assert store.get("moving", 0.5, "random_C") == first[2]


def test_unreachable_rows_say_why(tiny, tmp_path, monkeypatch):
    from neuroflow.glyphs.matched import Matched

    monkeypatch.setattr(
        job,
        "build_matched",
        lambda name, *a, **k: Matched(name, None, {"r": 9}, unreachable="too shallow"),
    )
    rows = compare(*tiny, SMALL, tmp_path)
    assert rows[1]["status"] == "unreachable" and rows[1]["reason"] == "too shallow"
    assert "unreachable: too shallow" in report.markdown(rows)


def test_tables_csv_and_plot(tiny, tmp_path):
    rows = compare(*tiny, SMALL, tmp_path)
    text = report.markdown(rows)
    assert "### moving (6 clips)" in text and text.count("| 0.5 |") == 2
    flat = report.csv_rows(rows)
    assert "hits" not in flat[0] and flat[2]["minus_c"] == rows[2]["vs_c"]["diff"]
    path = report.plot(rows, tmp_path / "fig.png")
    assert path.stat().st_size > 1000
    json.dumps(rows)  # every row is JSON-ready


def test_a_calibrated_run_reports_accuracy_after_the_held_out_logit_bias(
    tiny, tmp_path, monkeypatch
):
    fitted_on = []
    original = job.fit_logit_bias
    monkeypatch.setattr(
        job, "fit_logit_bias", lambda x, y: fitted_on.append(len(y)) or original(x, y)
    )
    settings = replace(SMALL, methods=("C",), clips=8, calibration_clips=6, calibrate=True)
    dense, c = compare(*tiny, settings, tmp_path)
    assert fitted_on == [6, 6]  # dense and C, each on the calibration clips, never the test
    for row in (dense, c):
        hits = from_bits(row["calibrated_hits"])
        assert len(hits) == 8 and row["calibrated_acc"] == pytest.approx(hits.mean())
        low, high = row["calibrated_acc_ci95"]
        assert low <= row["calibrated_acc"] <= high
        # Retention is against the uncalibrated dense accuracy (the reference).
        assert row["calibrated_retention"] == pytest.approx(
            row["calibrated_acc"] / dense["clip_acc"]
        )
    assert "calibrated" in report.markdown([dense, c]).splitlines()[2]
    plain = [{k: v for k, v in r.items() if not k.startswith("calibrated")} for r in (dense, c)]
    assert "calibrated" not in report.markdown(plain)
    flat = report.csv_rows([dense, c])
    assert flat[1]["calibrated_acc"] == c["calibrated_acc"] and "calibrated_hits" not in flat[1]
