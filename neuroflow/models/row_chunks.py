"""Row-count-aware chunking of the packed oneDNN linear layers.

The speed of a packed matrix product on a small CPU depends on its row count, and need not
rise with it: the kernel oneDNN picks, and how it splits the work over the threads, change
with the rows. Given a table of throughput per row count, measured on this machine for one
layer shape, :class:`RowPlan` splits a product into the chunks predicted fastest. Rows of a
product are independent, so a chunked result equals the whole call (up to the rounding of
the kernel chosen for each chunk).

Off by default, so results and timings stay as they were until :func:`set_row_chunking` (or
:func:`row_chunking`) turns it on:

- ``True``: tables come from the disk cache (:func:`cache_path`), keyed by CPU model,
  thread count, torch version, layer shape and dtype; a shape without one is measured on
  first use (:func:`measure_row_table`, a few seconds) and saved.
- ``"auto"``: only tables already cached (or set with :func:`set_row_table`) are used;
  nothing is measured inside a forward pass, and shapes without a table run unchunked.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

DEFAULT_GRID = (8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 196, 256, 384)
CALL_OVERHEAD_S = 2e-5  # dispatch of one more op call plus its share of the torch.cat
STREAM_BYTES = 48 << 20  # weights cycled while timing: more than a desktop L3, as in a forward


class LayerShape(NamedTuple):
    """What a layer's row table depends on besides the machine.

    Attributes:
        in_features: Columns of the input.
        out_features: Columns of the output.
        dtype: Dtype of input and weight.
        gelu: Fused GELU kind (``"tanh"`` / ``"none"``) or None.
    """

    in_features: int
    out_features: int
    dtype: torch.dtype
    gelu: str | None = None


class RowPlan:
    """Chunk sizes that minimise the predicted time of a product, from a throughput table.

    A call of ``r`` rows is predicted to take ``r * gflop_per_row / gflops(r)`` seconds plus
    ``call_overhead_s``, with ``gflops`` interpolated linearly between measured row counts
    and held at the last one beyond them; below the smallest measured count a call is
    predicted as slow as that one (nothing says tiny calls are cheap). Chunk sizes are
    measured row counts plus one chunk of any size, found by dynamic programming.

    Args:
        table: ``{rows: GFLOP/s}`` for one layer shape.
        gflop_per_row: GFLOP of one row (``2 * in * out / 1e9``); 1 gives relative times.
        call_overhead_s: Cost of each call, which keeps splits that barely pay off out.
        min_gain: Split only when the plan is predicted this much faster than one call;
            keeps measurement noise from splitting.

    Raises:
        ValueError: The table is empty or has a non-positive entry.
    """

    def __init__(
        self,
        table: Mapping[int, float],
        *,
        gflop_per_row: float = 1.0,
        call_overhead_s: float = 0.0,
        min_gain: float = 0.05,
    ) -> None:
        items = sorted((int(r), float(g)) for r, g in table.items())
        if not items or any(r <= 0 or not g > 0 for r, g in items):
            raise ValueError(f"a row table needs positive rows and GFLOP/s, got {dict(table)}")
        self._rows = np.array([r for r, _ in items], dtype=np.float64)
        self._gflops = np.array([g for _, g in items], dtype=np.float64)
        self.gflop_per_row, self.overhead, self.min_gain = gflop_per_row, call_overhead_s, min_gain
        self._sizes = [r for r, _ in items]
        self._size_cost = [float(c) for c in self.call_seconds(np.array(self._sizes))]
        self._best, self._first = [0.0], [0]  # DP over row counts, extended on demand
        self._plans: dict[int, list[int]] = {}

    def call_seconds(self, rows: np.ndarray | int) -> np.ndarray:
        """Predicted seconds of one call on ``rows`` rows (array in, array out)."""
        r = np.maximum(np.asarray(rows, dtype=np.float64), self._rows[0])
        return r * self.gflop_per_row / np.interp(r, self._rows, self._gflops) + self.overhead

    def predicted_seconds(self, sizes: Sequence[int]) -> float:
        """Predicted seconds of running chunks of ``sizes`` rows one after another."""
        return float(self.call_seconds(np.array(sizes)).sum()) if len(sizes) else 0.0

    def plan(self, rows: int) -> list[int]:
        """Chunk sizes (summing to ``rows``) predicted fastest; ``[rows]`` means one call."""
        if rows <= 1:
            return [rows] if rows == 1 else []
        if rows not in self._plans:  # called per layer call: look the answer up after once
            self._plans[rows] = self._solve(rows)
        return list(self._plans[rows])

    def _solve(self, rows: int) -> list[int]:
        self._extend(rows)
        single = float(self.call_seconds(rows))
        if single <= self._best[rows] * (1 + self.min_gain):
            return [rows]
        sizes, n = [], rows
        while n:
            sizes.append(self._first[n])
            n -= self._first[n]
        return sizes

    def _extend(self, rows: int) -> None:
        """Best time ``_best[n]`` and first chunk ``_first[n]`` for every ``n <= rows``."""
        start = len(self._best)
        whole = self.call_seconds(np.arange(start, rows + 1))
        for n in range(start, rows + 1):
            best, first = float(whole[n - start]), n  # strict < below: ties keep fewer calls
            for size, cost in zip(self._sizes, self._size_cost, strict=True):
                if size >= n:
                    break
                if self._best[n - size] + cost < best:
                    best, first = self._best[n - size] + cost, size
            self._best.append(best)
            self._first.append(first)


def measure_row_table(
    in_features: int,
    out_features: int,
    dtype: torch.dtype = torch.float32,
    rows_grid: Sequence[int] = DEFAULT_GRID,
    repeats: int = 5,
    *,
    gelu: str | None = None,
    stream_bytes: int = STREAM_BYTES,
    budget_s: float = 4.0,
) -> dict[int, float]:
    """Throughput ``{rows: GFLOP/s}`` of the packed oneDNN product of one layer shape.

    Cycles through enough distinct random weights (up to 16) that they stream from memory,
    as in a forward pass, and keeps each row count's fastest of ``repeats`` rounds: other
    load on the machine only ever adds time. Row counts rotate their order every round so a
    busy spell does not always hit the same ones. Rounds stop early once ``budget_s`` has
    passed (after the first), which bounds the cost on a slow or busy machine; a busy one
    still gives a table that mostly measures the other load.

    Raises:
        KernelsUnavailable: This torch build lacks the oneDNN ops.
    """
    from neuroflow.models.cpu_kernels import PackedLinear  # cpu_kernels imports this module

    gen = torch.Generator().manual_seed(0)
    size = in_features * out_features * torch.finfo(dtype).bits // 8
    count = min(max(math.ceil(stream_bytes / size), 1), 16)
    layers = []
    for _ in range(count):
        weight = (torch.randn(out_features, in_features, generator=gen) * 0.05).to(dtype)
        layers.append(PackedLinear(weight, torch.zeros(out_features, dtype=dtype), gelu))
    grid = sorted(set(int(r) for r in rows_grid))
    inputs = {r: torch.randn(r, in_features, generator=gen).to(dtype) for r in grid}
    best = dict.fromkeys(grid, math.inf)
    deadline = time.perf_counter() + budget_s
    with torch.no_grad():
        for r in grid:  # the first call of each row count builds its oneDNN primitive
            layers[0].product(inputs[r])
        for round_ in range(repeats):
            if round_ and time.perf_counter() > deadline:
                break
            for r in grid[round_ % len(grid) :] + grid[: round_ % len(grid)]:
                start = time.perf_counter()
                for layer in layers:
                    layer.product(inputs[r])
                best[r] = min(best[r], time.perf_counter() - start)
    flop = 2 * in_features * out_features * count
    return {r: r * flop / best[r] / 1e9 for r in grid}


def cache_path() -> Path:
    """``$NEUROFLOW_CACHE/row_tables.json``, else ``~/.cache/neuroflow/row_tables.json``."""
    root = os.environ.get("NEUROFLOW_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "neuroflow"
    return base / "row_tables.json"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def table_key(shape: LayerShape) -> str:
    """Cache key: CPU model, torch threads, torch version, layer shape and dtype."""
    dtype = str(shape.dtype).removeprefix("torch.")
    act = f"gelu-{shape.gelu}" if shape.gelu else "linear"
    machine = f"{_cpu_model()}|threads={torch.get_num_threads()}|torch={torch.__version__}"
    return f"{machine}|{shape.in_features}x{shape.out_features}|{dtype}|{act}"


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # missing or corrupt: measure again rather than fail
        return {}
    return data if isinstance(data, dict) else {}


def cached_table(shape: LayerShape, path: Path | None = None) -> dict[int, float] | None:
    """The cached table of ``shape`` on this machine, or None."""
    entry = _read_cache(path or cache_path()).get(table_key(shape))
    if not isinstance(entry, dict) or not isinstance(entry.get("gflops"), dict):
        return None
    return {int(r): float(g) for r, g in entry["gflops"].items()}


def save_table(shape: LayerShape, table: Mapping[int, float], path: Path | None = None) -> None:
    """Merge ``table`` into the cache file (written whole and renamed into place)."""
    path = path or cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _read_cache(path)  # re-read: another process may have added shapes meanwhile
    data[table_key(shape)] = {
        "gflops": {str(r): g for r, g in sorted(table.items())},
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "load_average": os.getloadavg()[0],  # a busy machine's table is suspect: keep the hint
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def load_or_measure(shape: LayerShape, path: Path | None = None, **measure) -> dict[int, float]:
    """The cached table of ``shape``, measured (``measure`` goes to :func:`measure_row_table`)
    and saved when missing."""
    table = cached_table(shape, path)
    if table is None:
        table = measure_row_table(*shape[:3], gelu=shape.gelu, **measure)
        save_table(shape, table, path)
    return table


_mode: bool | str = False
_tables: dict[LayerShape, dict[int, float]] = {}  # set in memory; used before the disk cache
_plans: dict[tuple[LayerShape, int], RowPlan | None] = {}


def set_row_chunking(mode: bool | str) -> bool | str:
    """Turn chunking off (``False``), on (``True``) or on for cached tables (``"auto"``).

    Returns:
        The previous mode.
    """
    global _mode
    if mode not in (True, False, "auto"):
        raise ValueError(f"row chunking is True, False or 'auto', got {mode!r}")
    previous, _mode = _mode, mode
    # Forget only the shapes "auto" found no table for (True measures them, and the disk
    # cache may have one by now); plans stay, so switching modes is cheap.
    for key in [k for k, plan in _plans.items() if plan is None]:
        del _plans[key]
    return previous


@contextlib.contextmanager
def row_chunking(mode: bool | str = True) -> Iterator[None]:
    """Context manager: :func:`set_row_chunking` inside, the previous mode restored after."""
    previous = set_row_chunking(mode)
    try:
        yield
    finally:
        set_row_chunking(previous)


def set_row_table(shape: LayerShape, table: Mapping[int, float] | None) -> None:
    """Use ``table`` for ``shape`` in this process (None: back to the disk cache)."""
    if table is None:
        _tables.pop(shape, None)
    else:
        _tables[shape] = dict(table)
    _plans.clear()


def plan_rows(shape: LayerShape, rows: int) -> list[int] | None:
    """Chunk sizes for a product of ``rows`` rows, or None for one call (also when off)."""
    if _mode is False or rows < 2:
        return None
    key = (shape, torch.get_num_threads())
    if key not in _plans:
        _plans[key] = _make_plan(shape)
    plan = _plans[key]
    sizes = None if plan is None else plan.plan(rows)
    return sizes if sizes is not None and len(sizes) > 1 else None


def _make_plan(shape: LayerShape) -> RowPlan | None:
    table = _tables.get(shape) or cached_table(shape)
    if table is None and _mode is True:
        table = load_or_measure(shape)
    if table is None:
        return None
    gflop = 2 * shape.in_features * shape.out_features / 1e9
    return RowPlan(table, gflop_per_row=gflop, call_overhead_s=CALL_OVERHEAD_S)
