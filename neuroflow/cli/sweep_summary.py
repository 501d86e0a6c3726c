"""One summary of a Hydra sweep: a table, ``sweep_summary.csv`` and ``accuracy_vs_keep.png``.

A multirun prints one table per job; :class:`SweepSummary` (a Hydra callback, registered in
``conf/hydra/default.yaml``) reads every job's ``results.json`` under the sweep directory once
the sweep ends and puts them side by side. Jobs that a resumed sweep skipped count as done
(their results are from an earlier run), and a job folder without ``results.json`` is listed as
failed. Hydra re-raises a failed job's error before ``on_multirun_end``, so the summary is
also written at exit when a sweep that started did not reach its end.
"""

from __future__ import annotations

import atexit
import csv
import json
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

COLUMNS = (
    "job",
    "status",
    "method",
    "keep_fraction",
    "dense_top1",
    "sparse_top1",
    "retention",
    "fidelity",
    "mcnemar_p",
    "overrides",
    "run_dir",
)
CSV_NAME = "sweep_summary.csv"
PLOT_NAME = "accuracy_vs_keep.png"
# results.json older than the sweep's start by more than this: the job was resumed (skipped).
_MTIME_MARGIN_S = 1.0
# The operating point in a method label (``θ=0.20``, ``k=0.20``): it varies along a plot line.
_OPERATING_POINT = re.compile(r" (θ|k)=\S+")


def _read_overrides(job_dir: Path) -> list[str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    return [str(o) for o in OmegaConf.load(path)]


def _job_config(job_dir: Path) -> dict | None:
    """The job's config: the resolved one the run saved, else the one Hydra saved first."""
    for path in (job_dir / "resolved_config.yaml", job_dir / ".hydra" / "config.yaml"):
        if path.is_file():
            return OmegaConf.to_container(OmegaConf.load(path), resolve=False)  # type: ignore[return-value]
    return None


def _label(results: Mapping | None, config: Mapping | None) -> str:
    """The method label from the run's identity (results.json), else from its config."""
    from neuroflow.lit.console import method_label

    identity = (results or {}).get("identity")
    if isinstance(identity, Mapping) and identity.get("method"):
        return method_label(identity)
    if config and config.get("arch"):
        return method_label(config)
    return str(((results or {}).get("config") or {}).get("arch", "?"))


def job_row(job_dir: Path, started: float | None = None) -> dict[str, Any] | None:
    """One row for the job in ``job_dir``; None when it holds no evaluation (e.g. a benchmark).

    Args:
        job_dir: A job's output folder (holds ``.hydra/`` or ``results.json``).
        started: When the sweep started (epoch seconds): older results were resumed.
    """
    path = job_dir / "results.json"
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    overrides = _read_overrides(job_dir)
    row.update(overrides=" ".join(overrides), run_dir=str(job_dir), _overrides=overrides)
    config = _job_config(job_dir)
    if not path.is_file():
        if config is not None and "arch" not in config:
            return None  # not an evaluation (a benchmark job): not this summary's business
        row.update(status="failed", method=_label(None, config))
        return row
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        row.update(status="failed", method="unreadable results.json")
        return row
    if "sparse" not in results or "dense" not in results:
        return None
    # Written before the sweep began: a resumed sweep skipped the job (the margin absorbs the
    # file system's coarse timestamps; a real job takes longer than that).
    resumed = started is not None and path.stat().st_mtime < started - _MTIME_MARGIN_S
    row.update(
        status="resumed" if resumed else "ok",
        method=_label(results, config),
        keep_fraction=results.get("keep_fraction"),
        dense_top1=results["dense"]["top1"]["acc"],
        sparse_top1=results["sparse"]["top1"]["acc"],
        retention=results.get("retention"),
        fidelity=results.get("fidelity"),
        mcnemar_p=(results.get("mcnemar") or {}).get("pvalue"),
    )
    return row


def _short_names(rows: list[dict]) -> None:
    """Name each job by the overrides that differ between jobs (the swept ones)."""
    split = [dict(o.split("=", 1) for o in r["_overrides"] if "=" in o) for r in rows]
    keys = dict.fromkeys(k for s in split for k in s)
    varying = [k for k in keys if len({s.get(k) for s in split}) > 1]
    for row, values in zip(rows, split, strict=True):
        shown = [f"{k}={values[k]}" for k in varying if k in values]
        row["job"] = " ".join(shown) or Path(row["run_dir"]).name


def collect(sweep_dir: str | Path, started: float | None = None) -> list[dict[str, Any]]:
    """Rows of every evaluation job under ``sweep_dir``, sorted by method then keep fraction."""
    root = Path(sweep_dir)
    dirs = {p.parent for p in root.rglob("results.json")}
    dirs |= {
        p.parent.parent for p in root.rglob(".hydra/overrides.yaml") if p.parent.parent != root
    }
    rows = [r for r in (job_row(d, started) for d in sorted(dirs)) if r is not None]
    _short_names(rows)
    rows.sort(key=lambda r: (r["status"] == "failed", r["method"], r["keep_fraction"] or 0.0))
    return rows


def write_csv(rows: list[dict], path: Path) -> Path:
    """``rows`` as CSV with the :data:`COLUMNS` (missing numbers as empty cells)."""
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_accuracy_vs_keep(rows: list[dict], path: Path) -> Path | None:
    """Sparse top-1 against keep fraction, one line per method, dense as reference lines."""
    done = [r for r in rows if r["status"] != "failed" and r["keep_fraction"] is not None]
    if not done:
        return None
    # A bare Figure renders with Agg and leaves pyplot's global backend alone (no display
    # needed, and a notebook that calls this keeps drawing inline).
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    # One line per method family: the threshold (or budget) is what moves along the line.
    series: dict[str, list[tuple[float, float]]] = {}
    for r in done:
        series.setdefault(_OPERATING_POINT.sub("", r["method"]), []).append(
            (r["keep_fraction"], r["sparse_top1"])
        )
    for name, points in series.items():
        ax.plot(*zip(*sorted(points), strict=True), marker="o", label=name)
    dense = sorted({r["dense_top1"] for r in done if r["dense_top1"] is not None})
    for i, value in enumerate(dense):  # one value unless jobs changed model or data
        ax.axhline(
            value, color="black", linestyle="--", linewidth=1, label="dense" if i == 0 else None
        )
    ax.set_xlabel("keep fraction (share of patches recomputed)")
    ax.set_ylabel("clip top-1")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _fmt(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_sweep(rows: list[dict], sweep_dir: Path, console: Any = None) -> None:
    """The summary table on the terminal, failed jobs last."""
    from rich.markup import escape
    from rich.table import Table

    from neuroflow.lit.console import output_console

    console = output_console(console, min_width=140)
    table = Table(title=escape(f"sweep summary: {len(rows)} jobs in {sweep_dir}"))
    for name in ("job", "method", "keep", "dense top-1", "sparse top-1", "retention", "fidelity"):
        table.add_column(name, justify="left" if name in ("job", "method") else "right")
    table.add_column("McNemar p", justify="right")
    for r in rows:
        if r["status"] == "failed":
            table.add_row(escape(r["job"]), escape(r["method"]), "failed", *[""] * 5)
            continue
        job = r["job"] + (" (resumed)" if r["status"] == "resumed" else "")
        table.add_row(
            escape(job),  # overrides like methods=[dense,C] are not rich markup
            escape(r["method"]),
            _fmt(r["keep_fraction"], ".3f"),
            _fmt(r["dense_top1"], ".3f"),
            _fmt(r["sparse_top1"], ".3f"),
            _fmt(r["retention"], ".3f"),
            _fmt(r["fidelity"], ".4f"),
            _fmt(r["mcnemar_p"], ".2e"),
        )
    console.print(table)


def summarize_sweep(sweep_dir: str | Path, started: float | None = None) -> list[dict] | None:
    """Print the table and write the CSV and the plot; None when no evaluation job was found."""
    sweep_dir = Path(sweep_dir)
    rows = collect(sweep_dir, started)
    if not rows:
        return None
    write_csv(rows, sweep_dir / CSV_NAME)
    plot_accuracy_vs_keep(rows, sweep_dir / PLOT_NAME)
    print_sweep(rows, sweep_dir)
    failed = sum(r["status"] == "failed" for r in rows)
    if failed:
        print(f"{failed} of {len(rows)} jobs failed (no results.json); see their log files")
    print(f"sweep directory: {sweep_dir}")
    return rows


class SweepSummary(Callback):
    """Hydra callback: summarise a multirun's evaluation jobs when it ends."""

    def __init__(self) -> None:
        self._sweep_dir: Path | None = None
        self._started: float | None = None
        self._done = False

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # The sweep dir holds the time of the start; its resolved value is read now, once.
        self._sweep_dir = Path(str(config.hydra.sweep.dir))
        self._started = time.time()
        self._done = False
        atexit.register(self._at_exit)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._summarize(Path(str(config.hydra.sweep.dir)))

    def _at_exit(self) -> None:
        # Hydra re-raises a failed job's error before on_multirun_end: summarise what ran.
        if not self._done and self._sweep_dir is not None:
            self._summarize(self._sweep_dir)

    def _summarize(self, sweep_dir: Path) -> None:
        self._done = True
        try:
            summarize_sweep(sweep_dir, self._started)
        except Exception as err:  # noqa: BLE001 (a summary must never fail the sweep)
            log.warning("no sweep summary for %s: %s", sweep_dir, err)
