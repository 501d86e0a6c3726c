"""The one results sink: files in the run directory first, W&B second.

Every run writes ``results.json`` (summary + metadata), one CSV per table (e.g. the per-clip
rows) and ``resolved_config.yaml`` into its run directory. :meth:`RunResults.log_wandb`
mirrors the same tables to a W&B run (offline by default) when one is given.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
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

    def log_wandb(self, run: Any, summary: Mapping[str, Any] | None = None) -> None:
        """Mirror every table (as ``table/<name>``), the summary and the files to a W&B run."""
        import wandb

        for name, rows in self.tables.items():
            columns = list(dict.fromkeys(k for r in rows for k in r))
            data = [[_clean(r.get(c)) for c in columns] for r in rows]
            run.log({f"table/{name}": wandb.Table(columns=columns, data=data)})
        if summary is not None:
            flat = {k: v for k, v in _clean(summary).items() if isinstance(v, (int, float))}
            run.summary.update(flat)
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
    ) -> bool:
        """The one W&B set-up of every command: start a run as the ``logger`` group says,
        mirror the results written so far (:meth:`log_wandb`), and finish it.

        Args:
            logger: The ``logger`` config group (``enabled``, ``project``, ``mode``, ``group``,
                ``tags``); nothing happens when disabled. Mode ``None`` leaves it to
                ``WANDB_MODE``; the shipped config makes it ``offline`` unless set.
            config: The run's resolved configuration (recorded on the W&B run).
            job_type: ``"eval"``, ``"bench"``, ...
            summary: Scalars for the run summary.

        Returns:
            True when a run was written.
        """
        if not logger.get("enabled", False) or logger.get("mode") == "disabled":
            return False
        import wandb

        run = wandb.init(
            project=logger.get("project") or "neuroflow",
            mode=logger.get("mode"),
            dir=str(self.run_dir),
            group=logger.get("group"),
            tags=list(logger.get("tags") or []),
            job_type=job_type,
            config=dict(config),
            reinit="finish_previous",
        )
        try:
            self.log_wandb(run, summary)
        finally:
            run.finish()
        return True
