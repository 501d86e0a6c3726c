"""Row chunking of the packed linears: the planner's choices, the table cache, exact results."""

from __future__ import annotations

import json

import pytest
import torch

from neuroflow.models import load_vision_model, row_chunks
from neuroflow.models.cpu_kernels import PackedLinear, onednn_available
from neuroflow.models.row_chunks import LayerShape, RowPlan, plan_rows, row_chunking

needs_onednn = pytest.mark.skipif(
    not onednn_available(), reason="this torch build has no oneDNN packed-linear ops"
)
# fast below 50 rows, slow from 64 to 133, middling beyond: the shape the brief reported
SLOW_BAND = {16: 100.0, 19: 470.0, 32: 470.0, 49: 470.0, 66: 235.0, 133: 235.0, 196: 370.0}
FLAT = {8: 200.0, 32: 200.0, 128: 200.0, 512: 200.0}


@pytest.fixture(autouse=True)
def fresh_policy(monkeypatch, tmp_path):
    """Chunking off, no tables in memory, and a private disk cache for every test."""
    monkeypatch.setenv("NEUROFLOW_CACHE", str(tmp_path))
    monkeypatch.setattr(row_chunks, "_tables", {})
    monkeypatch.setattr(row_chunks, "_plans", {})
    previous = row_chunks.set_row_chunking(False)
    yield
    row_chunks.set_row_chunking(previous)


def test_slow_middle_band_splits_into_fast_chunks():
    plan = RowPlan(SLOW_BAND)
    sizes = plan.plan(100)
    assert sum(sizes) == 100 and len(sizes) > 1
    assert all(19 <= s <= 49 for s in sizes), sizes
    assert plan.predicted_seconds(sizes) < plan.predicted_seconds([100])


def test_flat_or_rising_tables_never_split():
    rising = {r: 50.0 + r for r in (8, 16, 64, 256)}
    for table in (FLAT, rising):
        plan = RowPlan(table, call_overhead_s=1e-6)
        assert all(plan.plan(n) == [n] for n in range(1, 700))
    assert all(RowPlan(FLAT).plan(n) == [n] for n in (2, 77, 1000))  # ties, no overhead


def test_one_fast_call_is_never_split():
    assert RowPlan(SLOW_BAND).plan(30) == [30]
    peak_at_196 = {16: 100.0, 49: 300.0, 66: 200.0, 196: 500.0}
    assert RowPlan(peak_at_196).plan(196) == [196]
    assert RowPlan(SLOW_BAND).plan(196) != [196]  # 4 fast-band chunks beat 370 GFLOP/s


@pytest.mark.parametrize("seed", range(5))
def test_plans_preserve_the_row_count_and_beat_one_call(seed):
    gen = torch.Generator().manual_seed(seed)
    grid = (8, 16, 32, 48, 64, 96, 128, 196, 256)
    gflops = (torch.rand(len(grid), generator=gen) * 400 + 20).tolist()
    table = dict(zip(grid, gflops, strict=True))
    plan = RowPlan(table, min_gain=0.1)
    for rows in list(range(2, 300)) + [1000, 2500]:
        sizes = plan.plan(rows)
        assert sum(sizes) == rows and all(s > 0 for s in sizes)
        if len(sizes) > 1:  # a split must be predicted worth its min_gain
            assert plan.predicted_seconds(sizes) * 1.1 < plan.predicted_seconds([rows])


def test_tiny_row_counts_and_bad_tables():
    plan = RowPlan(SLOW_BAND)
    assert plan.plan(0) == [] and plan.plan(1) == [1]
    # below the smallest measured count a call costs at least as much as that one
    assert plan.predicted_seconds([4]) == pytest.approx(plan.predicted_seconds([16]))
    for bad in ({}, {0: 10.0}, {8: 0.0}, {8: float("nan")}):
        with pytest.raises(ValueError):
            RowPlan(bad)
    with pytest.raises(ValueError):
        row_chunks.set_row_chunking("on")


@needs_onednn
def test_measured_tables_are_cached_and_not_remeasured(monkeypatch, tmp_path):
    shape = LayerShape(16, 24, torch.float32, "tanh")
    first = row_chunks.load_or_measure(shape, rows_grid=(4, 8, 16), repeats=2)
    assert set(first) == {4, 8, 16} and all(g > 0 for g in first.values())
    stored = json.loads((tmp_path / "row_tables.json").read_text())
    key = row_chunks.table_key(shape)
    assert key in stored and torch.__version__ in key
    assert f"threads={torch.get_num_threads()}" in key

    def no_measuring(*args, **kwargs):
        raise AssertionError("a cached table was measured again")

    monkeypatch.setattr(row_chunks, "measure_row_table", no_measuring)
    assert row_chunks.load_or_measure(shape) == first
    assert row_chunks.cached_table(shape._replace(dtype=torch.bfloat16)) is None


def test_corrupt_cache_reads_as_empty(tmp_path):
    (tmp_path / "row_tables.json").write_text("{not json")
    shape = LayerShape(8, 8, torch.float32)
    assert row_chunks.cached_table(shape) is None
    row_chunks.save_table(shape, {8: 1.5})
    assert row_chunks.cached_table(shape) == {8: 1.5}


def counted(monkeypatch) -> list[int]:
    """Row counts of every packed call from now on."""
    rows: list[int] = []
    real = PackedLinear.product

    def product(self, flat):
        rows.append(flat.shape[0])
        return real(self, flat)

    monkeypatch.setattr(PackedLinear, "product", product)
    return rows


@needs_onednn
@pytest.mark.parametrize("gelu", [None, "tanh"])
def test_chunked_linear_equals_one_call(monkeypatch, gelu):
    gen = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(384, 256, generator=gen), torch.randn(384, generator=gen)
    layer = PackedLinear(weight, bias, gelu)
    row_chunks.set_row_table(layer.shape, SLOW_BAND)
    x = torch.randn(2, 50, 256, generator=gen)  # 100 rows: the slow band
    calls = counted(monkeypatch)
    with torch.no_grad():
        whole = layer(x)
        assert calls == [100]  # off by default
        with row_chunking(True):
            chunked = layer(x)
    assert len(calls) > 2 and sum(calls[1:]) == 100
    assert chunked.shape == whole.shape == (2, 50, 384)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)
    assert torch.equal(chunked, whole)  # rows are independent: same kernel, same bits here
    assert row_chunks.plan_rows(layer.shape, 100) is None  # the context restored "off"


@needs_onednn
def test_auto_uses_only_cached_tables(monkeypatch):
    def no_measuring(*args, **kwargs):
        raise AssertionError("auto must not measure inside a forward pass")

    monkeypatch.setattr(row_chunks, "measure_row_table", no_measuring)
    shape = LayerShape(256, 384, torch.float32)
    with row_chunking("auto"):
        assert plan_rows(shape, 100) is None  # no table anywhere: one call
        row_chunks.save_table(shape, SLOW_BAND)
        row_chunks.set_row_chunking("auto")  # re-reads the disk cache
        assert sum(plan_rows(shape, 100)) == 100


@needs_onednn
def test_encoder_with_chunking_on_equals_off(monkeypatch, tmp_path):
    measured: list[LayerShape] = []

    def synthetic(in_features, out_features, dtype, gelu=None, **kwargs):
        measured.append(LayerShape(in_features, out_features, dtype, gelu))
        return SLOW_BAND

    monkeypatch.setattr(row_chunks, "measure_row_table", synthetic)
    monkeypatch.setattr(row_chunks, "CALL_OVERHEAD_S", 0.0)  # tiny layers: let them split
    tower = load_vision_model("tiny-siglip")
    x = torch.randn(1, 100, 32)  # e.g. three streams packed into one pass
    calls = counted(monkeypatch)
    with torch.inference_mode():
        off = tower.encode(x)
        n_off = len(calls)
        with row_chunking(True):
            on = tower.encode(x)
    assert len(calls) - n_off > n_off  # every product ran in several chunks
    assert torch.equal(on, off)
    assert len(measured) == len(set(measured)) == 4  # qkv, out, fc1 + gelu, fc2: once each
    assert len(json.loads((tmp_path / "row_tables.json").read_text())) == 4
