"""Read back what an offline W&B run recorded (tests only).

W&B 0.31 writes the run's records to ``run-<id>.wandb``, a LevelDB-style log of protobuf
``Record`` messages (no ``wandb-summary.json`` offline, and no Python reader ships any more);
tables and images land as files under ``files/media``. This decodes the log's blocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

from neuroflow.paper.wandb_runs import payloads


@dataclass
class OfflineRun:
    """The parts of an offline run the tests look at."""

    name: str = ""
    group: str = ""
    job_type: str = ""
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    files: Path | None = None

    def tables(self) -> dict[str, dict]:
        """Logged tables by name (``table/clips`` -> ``clips``), as W&B wrote them."""
        found = {}
        for path in (self.files / "media" / "table" / "table").glob("*.table.json"):
            found[path.name.rsplit("_", 2)[0]] = json.loads(path.read_text())
        return found

    def images(self) -> list[str]:
        """Names of the logged images (``figure/speedup_vs_k`` -> ``speedup_vs_k``)."""
        return sorted(p.name.rsplit("_", 2)[0] for p in self.files.glob("media/images/**/*.png"))


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def read_offline_run(run_dir: Path) -> OfflineRun:
    """Decode ``run_dir`` (an ``offline-run-*`` folder): name, group, config and summary."""
    out = OfflineRun(files=run_dir / "files")
    (log,) = run_dir.glob("run-*.wandb")
    for payload in payloads(log.read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out.name, out.group = record.run.display_name, record.run.run_group
            out.job_type = record.run.job_type
            out.config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "summary":
            out.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
    return out
