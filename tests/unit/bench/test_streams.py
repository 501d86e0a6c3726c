"""Multi-stream benchmark: per-stream calibration, rows, engine == loop, variants, ceiling share."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import types
from dataclasses import replace

import numpy as np
import pytest

from neuroflow.bench.ceiling import ceiling
from neuroflow.bench.flops import FlopBreakdown
from neuroflow.bench.runner import MethodRun
from neuroflow.bench.stream_methods import Calibration, variant_context
from neuroflow.bench.streams import StreamBenchSettings, check_settings, run_stream_benchmark
from neuroflow.bench.streams_report import make_rows, within_key
from neuroflow.core.gate import GateConfig

TOL = 0.02


def tiny_settings(clip_path, **changes) -> StreamBenchSettings:
    """Seconds-long settings: tiny SigLIP at 32 px on the synthetic clip, 3 offset streams."""
    base = StreamBenchSettings(
        model="tiny-siglip",
        threads=1,
        video=str(clip_path),
        start=0,
        frames=6,
        warmup=1,
        round_frames=3,
        resolution=32,
        streams=[1, 3],
        stream_offset=3,
        k_tolerance=TOL,
        verify_ticks=3,
    )
    return replace(base, **changes)


@pytest.fixture(scope="module")
def report(clip_path):
    return run_stream_benchmark(tiny_settings(clip_path), log=lambda _: None)


def test_per_stream_calibration_puts_every_stream_on_target(report):
    three = [r for r in report.calibration if r["streams"] == 3]
    assert [r["stream"] for r in three] == [0, 1, 2]
    for row in three:
        assert abs(row["measured_k"] - 0.17) <= TOL, row
        # The gate-only search predicts what the engine then measures on the same frames.
        assert row["measured_k"] == pytest.approx(row["predicted_k"], abs=1e-6)
    assert len({r["threshold"] for r in three}) > 1  # the streams really needed their own
    engine = next(r for r in report.rows if r["streams"] == 3 and r["method"] == "engine")
    assert engine[within_key(TOL)] is True
    assert engine["k_min"] <= engine["k"] <= engine["k_max"]
    assert len(engine["k_streams"]) == 3 and engine["thresholds"] == [r["threshold"] for r in three]


def test_rows_hold_every_field_and_consistent_numbers(report):
    assert [(r["streams"], r["method"]) for r in report.rows] == [
        (s, m) for s in (1, 3) for m in ("dense_batched", "engine", "loop_C")
    ]
    fields = {"fps", "ms_median", "ms_p95", "state_bytes_per_stream", "k", "k_std", "speedup"}
    fields |= {"ceiling", "of_ceiling", "fps_vs_loop", "calibration", "resolution", "tokens"}
    bd = FlopBreakdown(
        **{k: v for k, v in report.breakdown.items() if k in FlopBreakdown.__dataclass_fields__}
    )
    for s in (1, 3):
        rows = {r["method"]: r for r in report.rows if r["streams"] == s}
        dense, engine, loop = rows["dense_batched"], rows["engine"], rows["loop_C"]
        for row in rows.values():
            assert fields <= set(row), fields - set(row)
            assert row["fps"] == pytest.approx(s * 1e3 / row["ms_median"])
            assert row["speedup"] == pytest.approx(dense["ms_median"] / row["ms_median"])
        assert engine["ceiling"] == pytest.approx(ceiling(bd, engine["k"], "C"))
        assert engine["of_ceiling"] == pytest.approx(engine["speedup"] / engine["ceiling"])
        assert engine["fps_vs_loop"] == pytest.approx(engine["fps"] / loop["fps"])
        assert dense["k"] == 1.0 and dense["ceiling"] == 1.0 and dense[within_key(TOL)] is None
        assert dense["state_bytes_per_stream"] == 0.0
        # The engine holds exactly each stream's own state: the same bytes as the loop's.
        assert engine["state_bytes_per_stream"] == loop["state_bytes_per_stream"] > 0
        assert engine["k_streams"] == loop["k_streams"]  # same thresholds, same frames
    meta = report.meta
    assert meta["resolution"] == 32 and meta["tokens"] == 64 and "busy_at_start" in meta
    assert meta["device_name"] and meta["torch"] and meta["cpu_count"]


def test_engine_embeddings_equal_the_loop(report):
    checks = report.meta["verify"]
    assert [c["streams"] for c in checks] == [1, 3] and all(c["ticks"] == 3 for c in checks)
    for check in checks:
        assert check["keep_equal"] and check["max_abs_diff"] <= 1e-5, check


def test_controller_and_shared_calibration(clip_path):
    quiet = lambda _: None  # noqa: E731
    steered = run_stream_benchmark(
        tiny_settings(clip_path, calibration="controller", streams=[3]), log=quiet
    )
    rows = {r["method"]: r for r in steered.rows}
    # The loop steers each stream with TargetKeep, the step the engine's controller takes.
    assert rows["engine"]["k_streams"] == rows["loop_C"]["k_streams"]
    assert steered.meta["verify"][0]["keep_equal"]
    shared = run_stream_benchmark(
        tiny_settings(clip_path, calibration="shared", streams=[3], loop=False), log=quiet
    )
    assert len({r["threshold"] for r in shared.calibration}) == 1
    assert [r["method"] for r in shared.rows] == ["dense_batched", "engine"]
    assert shared.meta["verify"] == []  # nothing to compare against without the loop


def test_masked_attention_variant_is_timed_beside_the_engine(clip_path):
    settings = tiny_settings(clip_path, streams=[3], engine_variants=["masked_attention"])
    rows = {r["method"]: r for r in run_stream_benchmark(settings, log=lambda _: None).rows}
    assert rows["engine+masked_attention"]["k_streams"] == rows["engine"]["k_streams"]
    assert rows["engine+masked_attention"]["ms_n"] == rows["engine"]["ms_n"] == 5


def test_row_chunks_variant_switches_on_and_back(monkeypatch):
    modes = []

    @contextlib.contextmanager
    def row_chunking(mode):
        modes.append(mode)
        yield
        modes.append("restored")

    fake = types.ModuleType("neuroflow.models.row_chunks")
    fake.row_chunking = row_chunking
    monkeypatch.setitem(sys.modules, "neuroflow.models.row_chunks", fake)
    with variant_context("row_chunks"):
        assert modes == [True]
    assert modes == [True, "restored"]
    monkeypatch.setitem(sys.modules, "neuroflow.models.row_chunks", None)  # import fails
    with pytest.raises(ValueError, match="'row_chunks' needs"):
        variant_context("row_chunks")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"calibration": "guess"}, "calibration must be one of"),
        ({"gate": GateConfig(mode="budget")}, "gate.mode=threshold"),
        ({"engine_variants": ["turbo"]}, "unknown engine variant 'turbo'"),
        ({"streams": [0]}, "positive counts"),
        ({"frames": 1}, "frames must be >= 2"),
    ],
)
def test_bad_settings_fail_before_any_work(changes, message):
    with pytest.raises(ValueError, match=message):
        check_settings(replace(StreamBenchSettings(), **changes))


class _Fake:
    def __init__(self, cost_model: str, size: float = 0.0):
        self.cost_model, self.size = cost_model, size

    def state_bytes(self) -> float:
        return self.size


def test_ceiling_share_and_tolerance_flag_from_known_timings():
    bd = FlopBreakdown(64, 1, 2, 32, 1e6, 2e5, 4e5, 1e3, 1e4, 1e3)
    dense = MethodRun("dense_batched", [0.010] * 4, [1.0] * 4, [[1.0, 1.0]] * 4, 0.01)
    # Stream 1 sits 0.03 off the 0.17 target: outside a 0.02 band.
    keep = [[0.17, 0.20], [0.17, 0.20], [0.17, 0.20], [0.17, 0.20]]
    engine = MethodRun("engine", [0.004] * 4, [0.185] * 4, keep, 0.01)
    loop = MethodRun("loop_C", [0.008] * 4, [0.185] * 4, keep, 0.01)
    runs = {"dense_batched": dense, "engine": engine, "loop_C": loop}
    methods = {"dense_batched": _Fake("dense"), "engine": _Fake("C", 100), "loop_C": _Fake("C")}
    context = {"streams": 2, "target_keep": 0.17}
    plan = Calibration([0.3, 0.2], [0.17, 0.2])
    rows = {r["method"]: r for r in make_rows(runs, methods, bd, context, TOL, plan)}
    row = rows["engine"]
    assert row["k"] == pytest.approx(0.185) and row["k_std"] == pytest.approx(0.015)
    assert row["speedup"] == pytest.approx(2.5) and row["fps_vs_loop"] == pytest.approx(2.0)
    assert row["ceiling"] == pytest.approx(bd.dense / _flops_c(bd, 0.185))
    assert row["of_ceiling"] == pytest.approx(2.5 / row["ceiling"])
    assert row[within_key(TOL)] is False and rows["loop_C"][within_key(TOL)] is False
    assert row["fps"] == pytest.approx(500.0)
    assert row["state_bytes_per_stream"] == 100
    loose = {r["method"]: r for r in make_rows(runs, methods, bd, context, 0.05, plan)}
    assert loose["engine"][within_key(0.05)] is True


def _flops_c(bd: FlopBreakdown, k: float) -> float:
    """Arch C's cost written out: patch embed, blocks on P + kN tokens, head over all tokens."""
    n = bd.num_prefix + k * bd.num_patches
    blocks = bd.attn_linear * n + bd.mlp * n + bd.attention * n * n
    return bd.patch_embed + blocks + bd.head(bd.tokens)


def test_stream_spread_is_per_stream_means():
    run = MethodRun("engine", [0.1] * 3, [0.0] * 3, [[0.1, 0.3], [0.2, 0.3], [0.3, 0.3]])
    from neuroflow.bench.streams_report import stream_keep

    assert np.allclose(stream_keep(run), [0.2, 0.3])


def test_config_defaults_and_every_setting_reach_the_benchmark():
    from neuroflow.cli.bench_streams import settings_from
    from neuroflow.cli.schemas import BENCH_MODEL_KEYS, BenchStreamsSchema
    from tests.confs import compose_config

    defaults = settings_from(compose_config("bench_streams", []))
    assert defaults == StreamBenchSettings(gate=defaults.gate)  # the yaml keeps the defaults
    assert defaults.gate.threshold == 0.35 and defaults.streams == [1, 4, 8, 16]
    schema = {f.name for f in dataclasses.fields(BenchStreamsSchema)}
    own = {f.name for f in dataclasses.fields(StreamBenchSettings)}
    assert own - set(BENCH_MODEL_KEYS) - {"gate"} <= schema
    changed = {"calibration": "shared", "k_tolerance": 0.05, "verify_ticks": 0, "loop": False}
    args = [f"{k}={v}" for k, v in changed.items()] + ["engine_variants=[masked_attention]"]
    settings = settings_from(compose_config("bench_streams", [*args, "model.device=cuda"]))
    assert {k: getattr(settings, k) for k in changed} == changed
    assert settings.engine_variants == ["masked_attention"] and settings.device == "cuda"
