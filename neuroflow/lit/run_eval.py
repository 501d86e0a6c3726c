"""One evaluation run from a composed config: build, test, summarise, write, mirror to W&B."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from neuroflow.eval.summary import summary_rows
from neuroflow.lit.build import build_datamodule, build_parts, build_trainer
from neuroflow.lit.zero_shot import ZeroShotEvalModule
from neuroflow.results import RunResults

log = logging.getLogger(__name__)


def print_summary(summary: dict, console: Console | None = None) -> None:
    """Dense vs sparse table on the terminal."""
    table = Table(title=f"dense vs sparse on {summary['clips']} clips")
    for col in ("method", "top-1 [95% CI]", "top-3", "fidelity", "skip", "skip (after frame 1)"):
        table.add_column(col, justify="right")
    for row in summary_rows(summary):
        table.add_row(
            row["method"],
            f"{row['top1']:.3f} [{row['top1_ci_low']:.3f}, {row['top1_ci_high']:.3f}]",
            f"{row['top3']:.3f}",
            f"{row['fidelity']:.4f}",
            f"{row['skip_rate']:.3f}",
            f"{row['skip_rate_after_first']:.3f}",
        )
    (console or Console()).print(table)
    m = summary["mcnemar"]
    (console or Console()).print(
        f"retention {summary['retention']:.3f} | McNemar dense-only {m['a_only']} / "
        f"sparse-only {m['b_only']}, p={m['pvalue']:.3g} | wall-time ratio dense/sparse "
        f"{summary['speedup']:.2f} (same process)"
    )


def run_eval(cfg: DictConfig, run_dir: str | Path) -> float:
    """Run one evaluation; returns the sparse top-1 (the sweep objective)."""
    sink = RunResults(run_dir)
    if cfg.get("skip_if_done", True) and sink.is_done():
        log.info("results.json exists in %s: skipping (resume)", sink.run_dir)
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
    if module.summary is None:
        raise RuntimeError("no clip could be evaluated; see the skipped-clip list")
    skipped = {s["clip_id"]: s for s in [*data.skipped, *module.skipped]}
    summary = dict(
        module.summary,
        skipped=list(skipped.values()),
        config={
            "model": cfg.model.source,
            "arch": cfg.arch.name,
            "threshold": cfg.gate.threshold,
            "ema_decay": cfg.gate.ema_decay,
        },
    )
    sink.add_table("clips", [r.row() for r in module.records])
    sink.add_table("summary", summary_rows(summary))
    sink.write(summary)
    print_summary(summary)
    sink.mirror_to_wandb(cfg.logger, OmegaConf.to_container(cfg, resolve=True), "eval", summary)
    return float(summary["sparse"]["top1"]["acc"])


def _read_objective(sink: RunResults) -> float:
    import json

    value = json.loads(sink.results_path.read_text())["sparse"]["top1"]["acc"]
    return float("nan") if value is None else value if not math.isnan(value) else float("nan")
