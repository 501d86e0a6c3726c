"""Find and read finished runs of every kind below results folders.

Evaluation, benchmark and language-model runs are read by :mod:`neuroflow.reporting` (one row
per run identity); the other kinds are read here: ``neuroflow-analyze`` runs (``"kind":
"analysis"`` with a ``tables`` dict), ``neuroflow-baselines`` runs (accuracy at matched keep),
``neuroflow-distill`` runs and the moving-glyphs benchmark (``python -m neuroflow.glyphs.report``).
Offline W&B runs are read too (:mod:`neuroflow.paper.wandb_runs`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from neuroflow import reporting
from neuroflow.paper.wandb_runs import write_wandb_runs

KINDS = (
    "eval",
    "bench",
    "llm",
    "analysis",
    "baselines",
    "ablation",
    "distill",
    "glyphs",
    "segment",
)


@dataclass(frozen=True)
class Run:
    """One finished run: where it lies, what kind it is and its ``results.json``."""

    label: str
    kind: str
    data: dict


@dataclass
class Collected:
    """Every run found below the results folders, and the tables made from them.

    Attributes:
        runs: Every run of a known kind, in label order.
        eval: :func:`neuroflow.reporting.collect_runs` rows of all folders (None: no run).
        bench: :func:`neuroflow.reporting.collect_bench` rows of all folders.
        llm: :func:`neuroflow.reporting.collect_llm` tables (``llm_similarity``, ...).
        baselines: The rows of every ``neuroflow-baselines`` run (accuracy at matched keep).
        analysis: Analysis tables by name, every analysis run's rows (a ``run`` column).
        fits: Each analysis table's fit (``attrs``) from the first run that has it.
        roots: The folders that were read.
    """

    runs: list[Run] = field(default_factory=list)
    eval: pd.DataFrame | None = None
    bench: pd.DataFrame | None = None
    llm: dict[str, pd.DataFrame] = field(default_factory=dict)
    baselines: pd.DataFrame | None = None
    analysis: dict[str, pd.DataFrame] = field(default_factory=dict)
    fits: dict[str, dict] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Run]:
        """The runs of one kind (``"distill"``, ``"glyphs"``, ...)."""
        return [r for r in self.runs if r.kind == kind]

    def table(self, name: str) -> pd.DataFrame | None:
        """An analysis table's rows from its first run (the one the headline numbers use)."""
        frame = self.analysis.get(name)
        if frame is None or frame.empty:
            return None
        first = frame[frame["run"] == frame["run"].iloc[0]].drop(columns="run")
        first.attrs = dict(self.fits.get(name, {}))
        return first.reset_index(drop=True)


def kind_of(data: Mapping[str, Any]) -> str | None:
    """The kind of one ``results.json`` (:data:`KINDS`), or None for another tool's file."""
    kind = reporting.kind_of(data)
    if kind is not None:
        return kind
    identity = data.get("identity") or {}
    if data.get("kind") == "analysis" and isinstance(data.get("tables"), Mapping):
        return "analysis"
    if identity.get("command") == "neuroflow-baselines" and isinstance(data.get("rows"), list):
        # A run with goals is an ablation beyond the paper (staleness_ablation): its rows are
        # other options of Arch C, kept out of the paper's baseline tables.
        return "ablation" if data.get("goals") else "baselines"
    if identity.get("kind") == "distill" and isinstance(data.get("test"), Mapping):
        return "distill"
    if isinstance(data.get("modes"), Mapping) and isinstance(data.get("variants"), Mapping):
        return "glyphs"
    if identity.get("kind") == "segment" and isinstance(data.get("summary"), Mapping):
        return "segment"
    return None


def _label(root: str, run: str) -> str:
    return os.path.normpath(os.path.join(root, run))


def _merge(parts: Sequence[pd.DataFrame]) -> pd.DataFrame | None:
    """One table from per-folder tables (columns united, first-seen order)."""
    return pd.concat(parts, sort=False) if parts else None


def _reporting_tables(roots: Iterable[tuple[str, str]]) -> dict[str, pd.DataFrame]:
    """:func:`neuroflow.reporting.collect_tables` of every ``(label, folder)``, merged; rows
    are indexed by ``label/run``."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for label, folder in roots:
        try:
            tables = reporting.collect_tables(folder)
        except FileNotFoundError:
            continue
        for name, frame in tables.items():
            frame.index = [_label(label, str(run)) for run in frame.index]
            frame.index.name = "run"
            parts.setdefault(name, []).append(frame)
    return {name: _merge(frames) for name, frames in parts.items()}


def _baseline_rows(run: Run) -> list[dict]:
    """Flat rows of a ``neuroflow-baselines`` run (interval and paired columns split)."""
    rows = []
    for row in run.data["rows"]:
        flat = {k: v for k, v in row.items() if k not in ("hits", "settings", "vs_c")}
        low, high = row.get("clip_acc_ci95") or (None, None)
        flat.update(clip_acc_ci_low=low, clip_acc_ci_high=high)
        flat.pop("clip_acc_ci95", None)
        flat["settings"] = ";".join(f"{k}={v}" for k, v in (row.get("settings") or {}).items())
        flat["minus_c"] = (row.get("vs_c") or {}).get("diff")
        rows.append({**flat, "run": run.label})
    return rows


def _analysis(runs: Sequence[Run]) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    tables: dict[str, list[dict]] = {}
    fits: dict[str, dict] = {}
    for run in runs:
        for name, rows in run.data["tables"].items():
            tables.setdefault(name, []).extend({**r, "run": run.label} for r in rows)
            fit = (run.data.get("fits") or {}).get(name)
            if fit and name not in fits:
                fits[name] = fit
    return {name: pd.DataFrame(rows) for name, rows in sorted(tables.items())}, fits


def _load(label: str, folder: str | Path) -> list[Run]:
    return [
        Run(_label(label, path), kind, data)
        for path, data in reporting.load_results(folder)
        if (kind := kind_of(data)) is not None
    ]


def collect(roots: Sequence[str | Path], wandb_dir: str | Path | None = None) -> Collected:
    """Read every run below ``roots`` (and the offline W&B runs below ``wandb_dir``).

    Args:
        roots: Results folders (a run directory, a sweep folder, ``experiments/``, ...).
        wandb_dir: A folder holding W&B run folders (``offline-run-*``, ``run-*``).

    Raises:
        FileNotFoundError: A folder does not exist.
    """
    labels = sorted({str(r) for r in roots})
    for root in labels:
        if not Path(root).is_dir():
            raise FileNotFoundError(f"results folder {root} does not exist")
    runs = [run for root in labels for run in _load(root, root)]
    folders = [(root, root) for root in labels]
    with tempfile.TemporaryDirectory() as scratch:
        if wandb_dir is not None:
            done = {str(Path(r.label).resolve()) for r in runs}
            found = write_wandb_runs(wandb_dir, Path(scratch), skip=done)
            label = f"wandb:{wandb_dir}"
            runs += _load(label, scratch)
            if found:
                folders.append((label, scratch))
        tables = _reporting_tables(folders)
    runs.sort(key=lambda r: r.label)
    baselines = [row for run in runs if run.kind == "baselines" for row in _baseline_rows(run)]
    analysis, fits = _analysis([r for r in runs if r.kind == "analysis"])
    return Collected(
        runs=runs,
        eval=tables.pop("eval", None),
        bench=tables.pop("bench", None),
        llm=dict(sorted(tables.items())),
        baselines=pd.DataFrame(baselines) if baselines else None,
        analysis=analysis,
        fits=fits,
        roots=labels,
    )
