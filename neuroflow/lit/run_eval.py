"""One evaluation run from a composed config: build, test, summarise, write, mirror to W&B."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf

from neuroflow.data.errors import NoUsableClipError
from neuroflow.eval.summary import headline_scalars, per_class_rows, recovery_counts, summary_rows
from neuroflow.identity import hydra_choices, run_identity, run_label
from neuroflow.lit.build import build_datamodule, build_parts, build_trainer
from neuroflow.lit.console import hydra_overrides, method_label, print_summary, run_title
from neuroflow.lit.zero_shot import ZeroShotEvalModule
from neuroflow.results import RunResults

log = logging.getLogger(__name__)


def run_eval(cfg: DictConfig, run_dir: str | Path) -> float:
    """Run one evaluation; returns the sparse top-1 (the sweep objective)."""
    sink = RunResults(run_dir)
    if cfg.get("skip_if_done", True) and sink.is_done() and not _failed(sink):
        log.info("results.json exists in %s: skipping (resume)", sink.run_dir)
        print(f"run directory: {sink.run_dir}")
        return float(_read_objective(sink))
    pl.seed_everything(int(cfg.seed), workers=True)
    if cfg.model.get("threads"):
        torch.set_num_threads(int(cfg.model.threads))
    sink.save_config(cfg)
    parts = build_parts(cfg)
    module = ZeroShotEvalModule(
        parts.dense,
        parts.sparse,
        parts.classifier,
        parts.project,
        parts.schedule,
        cfg.aggregation,
        parts.class_names,
    )
    data = build_datamodule(cfg, parts.dataset)
    build_trainer(cfg).test(module, datamodule=data, verbose=False)
    skipped = {s["clip_id"]: s for s in [*data.skipped, *module.skipped]}
    if module.summary is None:
        sink.write({"clips": 0, "status": "failed", "skipped": list(skipped.values())})
        first = next(iter(skipped.values()), {"reason": "the dataset served no clip"})
        raise NoUsableClipError(
            f"no clip could be evaluated: {len(skipped)} skipped (first: {first['reason']}); "
            f"every reason is in {sink.results_path}",
            list(skipped.values()),
        )
    config = OmegaConf.to_container(cfg, resolve=True)
    identity = run_identity(config, model=parts.dense, choices=hydra_choices())
    summary = dict(
        module.summary,
        skipped=list(skipped.values()),
        recovery=recovery_counts(module.records),
        identity=identity,
    )
    sink.add_table("clips", [r.row() for r in module.records])
    sink.add_table("summary", summary_rows(summary))
    sink.write(summary)
    method = method_label(config)
    print_summary(summary, method_label=method, title=run_title(cfg.task_name, hydra_overrides()))
    sink.mirror_to_wandb(
        cfg.logger,
        config,
        "eval",
        headline_scalars(summary),
        name=run_label(identity, method),
        group=cfg.logger.get("group") or cfg.get("task_name"),
        tables={"per_class": per_class_rows(summary)},
    )
    print(f"run directory: {sink.run_dir}")
    return float(summary["sparse"]["top1"]["acc"])


def _failed(sink: RunResults) -> bool:
    """True when results.json records a run in which no clip could be evaluated (rerun it)."""
    import json

    return json.loads(sink.results_path.read_text()).get("status") == "failed"


def _read_objective(sink: RunResults) -> float:
    import json

    value = json.loads(sink.results_path.read_text())["sparse"]["top1"]["acc"]
    return float("nan") if value is None else value if not math.isnan(value) else float("nan")
