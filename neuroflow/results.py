"""The one results sink: files in the run directory first, W&B second.

Every run writes ``results.json`` (summary + metadata), one CSV per table (e.g. the per-clip
rows) and ``resolved_config.yaml`` into its run directory. :meth:`RunResults.log_wandb`
mirrors the same tables to a W&B run (offline by default) when one is given.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, tuples lists, unknown objects strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


class RowLog:
    """Finished rows of a long run on disk (JSON lines), so an interrupted run resumes.

    The settings that made the rows are kept beside them (``settings.json``); resuming with
    other settings is refused rather than mixing rows of two runs.

    Args:
        path: The ``.jsonl`` file (its folder is created).
        settings: JSON-able settings of the run.
        key_fields: Row fields that identify a row (a later row with the same key wins).
    """

    def __init__(self, path: Path, settings: Mapping[str, Any], key_fields: Sequence[str]) -> None:
        self.path, self.key_fields = Path(path), tuple(key_fields)
        self.rows: dict[tuple, dict] = {}
        identity = self.path.with_name("settings.json")
        wanted = json.dumps(_clean(settings), sort_keys=True)
        if identity.exists() and identity.read_text() != wanted:
            raise ValueError(
                f"{self.path.parent} holds a run with other settings ({identity}); choose another "
                "output directory or repeat those settings to resume it"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        identity.write_text(wanted)
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                row = json.loads(line)
                self.rows[self.key(row)] = row

    def key(self, row: Mapping[str, Any]) -> tuple:
        """The identifying values of ``row`` (JSON text, so 0.5 and 0.50 agree)."""
        return self._key(row.get(f) for f in self.key_fields)

    @staticmethod
    def _key(values: Iterable[Any]) -> tuple:
        return tuple(json.dumps(_clean(v), sort_keys=True) for v in values)

    def get(self, *values: Any) -> dict | None:
        """The finished row whose key fields equal ``values``, or None."""
        return self.rows.get(self._key(values))

    def add(self, row: Mapping[str, Any]) -> dict:
        """Keep ``row`` and append it to the file now."""
        row = dict(row)
        self.rows[self.key(row)] = row
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        return row


class RunResults:
    """Writes a run's results into ``run_dir``.

    Args:
        run_dir: The run directory (created if missing).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.tables: dict[str, list[dict]] = {}

    @property
    def results_path(self) -> Path:
        """Where ``results.json`` goes; its presence marks a finished run."""
        return self.run_dir / "results.json"

    def is_done(self) -> bool:
        """True when this run directory already holds a finished run's results."""
        return self.results_path.is_file()

    def save_config(self, config: Any) -> Path:
        """Write the resolved config (an OmegaConf node or a plain dict) as YAML."""
        from omegaconf import OmegaConf

        path = self.run_dir / "resolved_config.yaml"
        node = config if OmegaConf.is_config(config) else OmegaConf.create(config)
        OmegaConf.save(node, path, resolve=True)
        return path

    def add_table(self, name: str, rows: Sequence[Mapping[str, Any]]) -> Path:
        """Keep a table for W&B and write it to ``<name>.csv`` now."""
        rows = [dict(r) for r in rows]
        self.tables[name] = rows
        path = self.run_dir / f"{name}.csv"
        columns = list(dict.fromkeys(k for r in rows for k in r))
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def write(self, summary: Mapping[str, Any]) -> Path:
        """Write ``results.json`` (atomically: a crash never leaves a half-written file)."""
        tmp = self.results_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_clean(summary), indent=2, sort_keys=False))
        tmp.replace(self.results_path)
        return self.results_path

    def log_wandb(
        self,
        run: Any,
        summary: Mapping[str, Any] | None = None,
        tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        """Mirror the run to a W&B run: tables, per-frame tables, figures, scalars and files.

        Args:
            run: The W&B run.
            summary: Scalars for the run summary; nested dicts become ``a/b`` keys.
            tables: Tables for W&B only (besides those of :meth:`add_table`).
        """
        import wandb

        for name, rows in {**self.tables, **(tables or {})}.items():
            run.log({f"table/{name}": _wandb_table(wandb, _numeric_frames(rows))})
            frames = per_frame_rows(rows)
            if frames:  # long format: one row per (clip, frame), plottable in W&B
                run.log({f"table/{name}_frames": _wandb_table(wandb, frames)})
        for path in sorted(self.run_dir.glob("*.png")):
            run.log({f"figure/{path.stem}": wandb.Image(str(path))})
        if summary is not None:
            # Raw values: a NaN (W&B records it as null) keeps its key, where None would drop it.
            run.summary.update(_scalars(summary))
        artifact = wandb.Artifact(f"results-{run.id}", type="results")
        for path in sorted(self.run_dir.glob("*.csv")) + [self.results_path]:
            if path.is_file():
                artifact.add_file(str(path))
        run.log_artifact(artifact)

    def mirror_to_wandb(
        self,
        logger: Mapping[str, Any],
        config: Mapping[str, Any],
        job_type: str,
        summary: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        group: str | None = None,
        tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> bool:
        """The one W&B set-up of every command: start a run as the ``logger`` group says,
        mirror the results written so far (:meth:`log_wandb`), and finish it.

        Args:
            logger: The ``logger`` config group (``enabled``, ``project``, ``mode``, ``group``,
                ``tags``); nothing happens when disabled. Mode ``None`` leaves it to
                ``WANDB_MODE``; the shipped config makes it ``offline`` unless set.
            config: The run's resolved configuration (recorded on the W&B run, without any
                credential-like key).
            job_type: ``"eval"``, ``"bench"``, ...
            summary: Scalars for the run summary.
            name: The run's display name (say what ran: method, operating point, data).
            group: The run's group when ``logger.group`` is unset.
            tables: W&B-only tables (see :meth:`log_wandb`).

        Returns:
            True when a run was written.
        """
        if not logger.get("enabled", False) or logger.get("mode") == "disabled":
            return False
        import wandb

        from neuroflow.identity import scrub_secrets

        run = wandb.init(
            project=logger.get("project") or "neuroflow",
            mode=logger.get("mode"),
            dir=str(self.run_dir),
            name=name,
            group=logger.get("group") or group,
            tags=list(logger.get("tags") or []),
            job_type=job_type,
            config=scrub_secrets(dict(config)),
            reinit="finish_previous",
        )
        try:
            self.log_wandb(run, summary, tables)
        finally:
            run.finish()
        return True


def _wandb_table(wandb: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return wandb.Table(columns=columns, data=[[_clean(r.get(c)) for c in columns] for r in rows])


def _scalars(summary: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of ``summary`` as flat ``a/b`` keys (lists and strings left out)."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        if isinstance(value, Mapping):
            out.update(_scalars(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = value
    return out


def _frame_values(value: Any) -> list[float] | None:
    """The numbers of a per-frame cell (CSV rows hold them space-joined), else None."""
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    if not isinstance(value, str):
        return None
    try:
        return [float(v) for v in value.split()]
    except ValueError:
        return None


def _frame_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Columns named ``frame_*`` whose every cell is a list of numbers."""
    columns = dict.fromkeys(k for r in rows for k in r if str(k).startswith("frame_"))
    return [c for c in columns if all(_frame_values(r.get(c)) is not None for r in rows)]


def _numeric_frames(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """``rows`` with per-frame cells as lists of floats (W&B keeps them numeric)."""
    columns = _frame_columns(rows)
    return [{**r, **{c: _frame_values(r[c]) for c in columns if c in r}} for r in rows]


def per_frame_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """One row per (row, frame) from the ``frame_*`` columns: ``frame_keep`` -> ``keep``.

    The row's ``clip_id`` (when present) names it; empty when there are no per-frame columns.
    """
    columns = _frame_columns(rows)
    out = []
    for index, row in enumerate(rows):
        values = {c.removeprefix("frame_"): _frame_values(row.get(c)) or [] for c in columns}
        for frame in range(max((len(v) for v in values.values()), default=0)):
            item: dict[str, Any] = {"clip_id": row.get("clip_id", index), "frame": frame}
            item.update({k: v[frame] if frame < len(v) else None for k, v in values.items()})
            out.append(item)
    return out
