"""One distillation run from a composed config: train, test before/after, export, write."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf

from neuroflow.distill.evaluate import before_after, summary_rows
from neuroflow.distill.trainable import export_adapter
from neuroflow.identity import distill_identity
from neuroflow.lit.distill_build import build_distill, build_trainer, resolve_checkpoint
from neuroflow.lit.distill_report import headline, print_report, validation_rows
from neuroflow.models.adapters import adapter_bytes, parameter_bytes
from neuroflow.results import RunResults

ADAPTER_FILE = "adapter.safetensors"


def run_distill(cfg: DictConfig, run_dir: str | Path) -> float:
    """Train, test the original and the student, export the adapter; returns the student's
    sparse top-1 at the operating point on the test clips."""
    run_dir = Path(run_dir)
    sink = RunResults(run_dir)
    pl.seed_everything(int(cfg.seed), workers=True)
    if cfg.model.get("threads"):
        torch.set_num_threads(int(cfg.model.threads))
    ckpt = resolve_checkpoint(cfg.get("ckpt_path"), run_dir)
    sink.save_config(cfg)
    parts = build_distill(cfg)
    trainer = build_trainer(cfg, run_dir)
    # The frozen teacher is in eval mode on purpose; Lightning warns about any such module.
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    start = time.perf_counter()
    trainer.fit(parts.module, datamodule=parts.data, ckpt_path=ckpt)
    seconds = time.perf_counter() - start
    trainer.test(parts.module, datamodule=parts.data, verbose=False)
    if not trainer.is_global_zero:
        return float("nan")
    records = parts.module.test_records
    if records is None:
        raise RuntimeError("the test set served no clip; see data.test")
    rows = summary_rows(records)
    config = OmegaConf.to_container(cfg, resolve=True)
    summary = {
        "status": "done",
        "identity": distill_identity(config, model=parts.model),
        "training": {
            "global_step": int(trainer.global_step),
            "world_size": int(trainer.world_size),
            "seconds_this_session": seconds,
            "resumed_from": ckpt,
            "trainable_parameters": parts.trainable,
        },
        "test": {"rows": rows, "before_after": before_after(records)},
        "validation": parts.module.validation,
    }
    if cfg.export_adapter:
        path = export_adapter(
            parts.student, run_dir / ADAPTER_FILE, base=parts.base, meta=_meta(summary)
        )
        size, base = adapter_bytes(path), parameter_bytes(parts.module.teacher)
        summary["adapter"] = {"path": str(path), "bytes": size, "base_bytes": base}
        summary["adapter"]["ratio"] = size / base
    sink.add_table("test", rows)
    sink.add_table("validation", validation_rows(parts.module.validation))
    sink.write(summary)
    print_report(summary, title=f"{cfg.task_name}: {headline(summary)}")
    _mirror(trainer, sink, summary)
    print(f"run directory: {sink.run_dir}")
    return float(next(r["top1"] for r in rows if r["model"] == "student" and r["path"] != "dense"))


def _meta(summary: dict) -> dict:
    identity = summary["identity"]
    keys = ("method", "gate", "curriculum", "loss", "trainable", "optim", "model")
    return {
        **{k: identity.get(k) for k in keys},
        "global_step": summary["training"]["global_step"],
        "identity_key": identity.get("identity_key"),
    }


def _mirror(trainer: pl.Trainer, sink: RunResults, summary: dict) -> None:
    """Results into the W&B run the training curves went to (when there is one)."""
    from lightning.pytorch.loggers import WandbLogger

    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            run = logger.experiment
            sink.log_wandb(run, {"test": summary["test"]["before_after"]})
            run.finish()
