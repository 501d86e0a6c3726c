"""Offline (and synced) W&B runs in their command's ``results.json`` form.

W&B >= 0.19 writes no ``wandb-summary.json`` for an offline run: the summary and config live
only in the run's transaction log (``run-<id>.wandb``, LevelDB-style blocks of protobuf
records), the logged tables under ``files/media/table``. Synced or online runs have
``files/wandb-summary.json`` and ``files/config.yaml``. Evaluation runs are rebuilt from their
summary, benchmark and analysis runs from their logged tables.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Log layout: a 7-byte file header, then 32 KiB blocks of records, each with a 7-byte header
# (crc32, length, type); a record that crosses a block is split into FIRST/MIDDLE/LAST parts.
_BLOCK, _HEADER, _FULL, _LAST = 32768, 7, 1, 4


def payloads(raw: bytes) -> Iterable[bytes]:
    """The complete records of a W&B transaction log (a record still being written is left out)."""
    if raw[:4] != b":W&B":
        raise ValueError("not a W&B transaction log")
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # the rest of the block is padding
            pos += left
            continue
        length, kind = int.from_bytes(raw[pos + 4 : pos + 6], "little"), raw[pos + 6]
        if pos + _HEADER + length > len(raw):  # the writer has not finished this record yet
            return
        pending += raw[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind in (_FULL, _LAST):
            yield pending
            pending = b""


def _from_log(log_file: Path) -> tuple[dict, dict, str]:
    """``(config, summary, job_type)`` decoded from an offline run's transaction log."""
    from wandb.proto import wandb_internal_pb2 as pb

    config, summary, job_type = {}, {}, ""
    for payload in payloads(log_file.read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            job_type = record.run.job_type
            config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "summary":
            for item in record.summary.update:
                key = "/".join(item.nested_key) if item.nested_key else item.key
                summary[key] = json.loads(item.value_json)
    return config, summary, job_type


def _read_wandb_run(folder: Path) -> tuple[dict, dict, str]:
    files = folder / "files"
    if (files / "wandb-summary.json").is_file() and (files / "config.yaml").is_file():
        import yaml

        raw = yaml.safe_load((files / "config.yaml").read_text()) or {}
        config = {k: v.get("value") if isinstance(v, Mapping) else v for k, v in raw.items()}
        job = ((config.get("_wandb") or {}).get("job_type")) or ""
        return config, json.loads((files / "wandb-summary.json").read_text()), job
    (log_file,) = folder.glob("run-*.wandb")
    return _from_log(log_file)


def _tables(folder: Path) -> dict[str, list[dict]]:
    """The tables a run logged (``table/results`` -> ``results``) as row dicts."""
    tables = {}
    for path in sorted((folder / "files" / "media" / "table").rglob("*.table.json")):
        data = json.loads(path.read_text())
        rows = [dict(zip(data["columns"], row, strict=True)) for row in data["data"]]
        tables[path.name.rsplit("_", 2)[0]] = rows
    return tables


def _identity(config: Mapping, run_id: str, kind: str) -> dict:
    """What the W&B config says defines the run (its key is the W&B run id)."""

    def plain(node: Any) -> Any:
        return (
            {k: v for k, v in node.items() if k != "_target_"}
            if isinstance(node, Mapping)
            else node
        )

    identity = {"kind": kind, "identity_key": f"wandb-{run_id}"}
    identity["method"] = plain(config.get("arch"))
    for key in ("gate", "cache", "schedule", "dataset", "model", "seed"):
        if key in config:
            identity[key] = plain(config[key])
    return identity


def _as_results(config: dict, summary: dict, job: str, folder: Path) -> dict | None:
    """A W&B run in its command's ``results.json`` form (None: a kind not read here)."""
    run_id = folder.name.rsplit("-", 1)[-1]
    if job == "eval" and "sparse/top1" in summary:
        side = {
            s: {k: {"acc": summary.get(f"{s}/{k}")} for k in ("top1", "top3")}
            for s in ("dense", "sparse")
        }
        keys = ("clips", "retention", "fidelity", "skip_rate", "skip_rate_after_first")
        return {
            **side,
            **{k: summary.get(k) for k in keys},
            "mcnemar": {"pvalue": summary.get("mcnemar_p")},
            "speedup": summary.get("walltime_ratio"),
            "identity": _identity(config, run_id, "eval"),
        }
    tables = _tables(folder)
    if job == "bench" and "results" in tables:
        return {
            "identity": _identity(config, run_id, "bench"),
            "meta": {},
            "rows": tables["results"],
        }
    if job == "analysis" and tables:
        return {
            "kind": "analysis",
            "identity": _identity(config, run_id, "analysis"),
            "tables": tables,
        }
    return None


def write_wandb_runs(wandb_dir: str | Path, out: Path, skip: set[str] = frozenset()) -> int:
    """Write the W&B runs below ``wandb_dir`` as ``out/<run folder>/results.json``.

    Evaluation runs come from their summary, benchmark and analysis runs from their logged
    tables. A run logged from a run directory that is already collected (neuroflow starts
    W&B inside ``<run>/wandb/``) is left out: ``skip`` holds those directories.

    Returns:
        How many runs were written.
    """
    written = 0
    for folder in sorted(Path(wandb_dir).rglob("*run-*")):
        if not folder.is_dir() or not (folder / "files").is_dir():
            continue
        if folder.is_symlink() or str(folder.parent.parent.resolve()) in skip:
            continue
        try:
            results = _as_results(*_read_wandb_run(folder), folder)
        except (OSError, ValueError) as err:
            log.warning("skipping W&B run %s: %s", folder, err)
            continue
        if results is not None:
            (out / folder.name).mkdir(parents=True)
            (out / folder.name / "results.json").write_text(json.dumps(results, default=str))
            written += 1
    return written
