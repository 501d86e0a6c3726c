"""Speed of the matched methods from the benchmark harness, against Arch C at the same k."""

from __future__ import annotations

import pytest

from neuroflow.archs.registry import parse_spec
from neuroflow.core.gate import GateConfig
from neuroflow.glyphs.speed import SpeedSettings, bench_spec, speed_rows
from tests.unit.bench.conftest import write_clip


def _row(method, settings, keep=0.25, variant="moving", status="ok"):
    return {
        "variant": variant,
        "keep_target": keep,
        "method": method,
        "settings": settings,
        "status": status,
    }


def test_a_bench_spec_carries_the_matched_settings_inline():
    row = _row(
        "C:max_cache_age=4;stagger=true",
        {
            "mode": "budget",
            "keep_fraction": 0.12,
            "max_cache_age": 4,
            "stagger": True,
            "slow_ema_decay": None,
        },
    )
    name, settings = parse_spec(bench_spec(row))
    assert name == "C"
    assert settings == row["settings"]  # YAML reads the JSON values back, null included
    assert bench_spec(_row("dense", {})) == "dense"


def test_every_method_is_timed_against_arch_c_at_the_same_keep(tmp_path):
    rows = [
        _row("C", {"mode": "budget", "keep_fraction": 0.25}),
        _row("E", {"mode": "budget", "keep_fraction": 0.25}),
        _row("C", {"mode": "budget", "keep_fraction": 0.25}, variant="change"),
        _row("tome", {}, status="unreachable"),
    ]
    speed = SpeedSettings(
        enabled=True,
        model="tiny-siglip",
        resolution=32,
        video=str(write_clip(tmp_path / "clip.mp4")),
        start=0,
        frames=4,
        warmup=1,
        round_frames=2,
    )
    out = speed_rows(rows, [0.25], speed, GateConfig(ema_decay=0.3), log=lambda _: None)
    assert [r["method"] for r in out] == ["C", "E"]  # the timed variant's ok rows only
    by = {r["method"]: r for r in out}
    assert by["C"]["vs_c"] == pytest.approx(1.0)
    assert by["E"]["vs_c"] == pytest.approx(by["E"]["ms_median"] / by["C"]["ms_median"])
    assert by["E"]["state_bytes_per_stream"] > by["C"]["state_bytes_per_stream"]  # its K/V
    assert all(0 < r["bench_keep"] <= 1 and r["resolution"] == 32 for r in out)
