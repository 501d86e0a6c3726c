"""The whole benchmark on a tiny tower and a synthetic clip: rows, files, plots, tables."""

from __future__ import annotations

import json
import math

import pytest
from rich.console import Console

from neuroflow.bench.plots import save_plots
from neuroflow.bench.report import print_report
from neuroflow.bench.suite import BenchSettings, run_benchmark
from neuroflow.core.gate import GateConfig


@pytest.fixture(scope="module")
def report(clip_path):
    settings = BenchSettings(
        model="tiny-siglip",
        video=str(clip_path),
        start=0,
        frames=5,
        warmup=2,
        resolutions=[32, 48],
        methods=["B", "C", "plain", "random_C", "dense_x2"],
        gate=GateConfig(ema_decay=0.1),
        target_keep=[0.1],
        streams=[1, 2],
        flop_frames=2,
        profile=True,
    )
    return run_benchmark(settings, log=lambda _: None)


def test_one_row_per_setting_and_method(report):
    assert len(report.rows) == 2 * 2 * 6
    assert {r["method"] for r in report.rows} == {
        "dense",
        "B",
        "C",
        "plain",
        "random_C",
        "dense_x2",
    }
    for row in report.rows:
        for key in (
            "speedup",
            "ceiling",
            "of_ceiling",
            "k",
            "ms_median",
            "ms_p5",
            "ms_p95",
            "gflops",
            "gflops_counted",
            "flop_ratio",
            "state_bytes_per_stream",
            "of_ceiling_paired",
            "of_ceiling_mean",
            "ceiling_mean_k",
            "k_median",
        ):
            assert math.isfinite(row[key]), key
        assert row["ms_p5"] <= row["ms_median"] <= row["ms_p95"]
    dense = [r for r in report.rows if r["method"] == "dense"]
    assert all(r["speedup"] == 1.0 and r["k"] == 1.0 and r["ceiling"] == 1.0 for r in dense)


def test_counted_flops_follow_the_ceiling_model(report):
    for row in report.rows:
        # FlopCounterMode's count of the sampled frames equals the cost model ...
        assert row["flop_model_error"] < 1e-4, row["method"]
        # ... and the FLOP ratio over the timed frames is close to S(mean k)
        assert row["flop_ratio"] == pytest.approx(row["ceiling"], rel=0.15), row["method"]
    twice = [r for r in report.rows if r["method"] == "dense_x2"]
    assert all(r["flop_ratio"] == pytest.approx(0.5) for r in twice)


def test_state_and_gate_are_reported(report):
    c = [r for r in report.rows if r["method"] == "C"]
    assert all(2.0 <= r["state_per_nd"] <= 2.1 for r in c)
    assert [g["resolution"] for g in report.gate] == [32, 48]
    assert all(g["gate_us"] > 0 and 0 < g["gate_share"] for g in report.gate)
    assert report.meta["random_weights"] and report.meta["torch_threads"] >= 1
    assert {"torch", "dtype", "cpu", "load_average"} <= set(report.meta)
    assert "aten::" in report.profiles["C_32px_k0.1"]


def test_report_prints_and_plots(report, tmp_path):
    console = Console(record=True, width=200)
    print_report(report, console)
    text = console.export_text()
    assert "RANDOM WEIGHTS" in text and "speedup/S" in text and "gate" in text
    assert f"rounds of {report.meta['round_frames']} frames" in text
    paths = save_plots(report, tmp_path)
    assert [p.name for p in paths] == [
        "speedup_vs_resolution.png",
        "latency_percentiles.png",
        "speedup_vs_k.png",
    ]
    assert all(p.stat().st_size > 1000 for p in paths)
    json.dumps(report.rows)  # plain values only
