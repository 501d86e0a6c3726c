"""Config -> objects for a distillation run: teacher, student, module, data, trainer."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from omegaconf import DictConfig
from torch import nn

from neuroflow.archs import get_method
from neuroflow.data.datamodule import ClipDataModule
from neuroflow.distill.evaluate import DistillEvaluator, keep_probes
from neuroflow.distill.trainable import apply_trainable
from neuroflow.eval.zeroshot import build_classifier, project_image
from neuroflow.lit.build import build_transform
from neuroflow.lit.distill import SparseDistillModule, trainable_identity
from neuroflow.models.adapters import model_fingerprint
from neuroflow.models.dtypes import parse_dtype
from neuroflow.models.loading import load_vision_language_model, load_vision_model, wrap_tower
from neuroflow.models.tower import VisionTower

CHECKPOINTS = "checkpoints"


@dataclass
class DistillParts:
    """What a distillation run is made of."""

    module: SparseDistillModule
    data: ClipDataModule
    model: nn.Module  # the base image-text model (its vision tower is the teacher)
    student: VisionTower
    trainable: list[str]
    base: dict[str, Any]  # fingerprint of the base model the adapter belongs to


def check_compatible(teacher: VisionTower, student: VisionTower) -> None:
    """Refuse a teacher whose pooled embeddings do not live where the student's do.

    Raises:
        ValueError: Naming both towers' family, width and patch size.
    """

    def shape(t: VisionTower) -> tuple:
        return (t.family, t.hidden_size, t.patch_size, t.native_image_size)

    if shape(teacher) != shape(student):
        names = "family, hidden size, patch size, native image size"
        raise ValueError(
            f"teacher {shape(teacher)} and student {shape(student)} ({names}) differ: "
            "distillation matches the pooled embeddings of the same model; use a teacher of "
            "the student's architecture (teacher_source=null uses the model itself)"
        )


def _teacher(cfg: DictConfig, model: nn.Module) -> VisionTower:
    if not cfg.get("teacher_source"):
        return copy.deepcopy(wrap_tower(model))
    dtype = parse_dtype(cfg.model.dtype)
    return load_vision_model(cfg.teacher_source, dtype=dtype, device=cfg.model.device)


def _datasets(cfg: DictConfig, processor: Any) -> dict[str, Any]:
    transform = build_transform(cfg, processor)
    return {k: instantiate(cfg.data[k], transform=transform) for k in ("train", "val", "test")}


def build_distill(cfg: DictConfig) -> DistillParts:
    """Load the base model, build teacher and student, the module and the data."""
    get_method(cfg.method)  # an unknown method fails before anything loads
    model, processor = load_vision_language_model(
        cfg.model.source,
        dtype=parse_dtype(cfg.model.dtype),
        device=cfg.model.device,
        adapter=cfg.model.get("adapter"),
    )
    student = wrap_tower(model)  # shares the base model's weights: the classifier sees them
    teacher = _teacher(cfg, model)
    check_compatible(teacher, student)
    spec = instantiate(cfg.trainable)
    names = apply_trainable(student, spec)
    datasets = _datasets(cfg, processor)
    class_names = list(cfg.prompts.class_names or datasets["val"].class_names)
    classifier = build_classifier(model, processor, class_names, list(cfg.prompts.templates))
    project = partial(project_image, model)
    gate = instantiate(cfg.gate)
    evaluator = DistillEvaluator(
        classifier,
        keep_probes(gate, cfg.eval_keep_fractions),
        cfg.method,
        project,
        cfg.aggregation,
    )
    loss = instantiate(cfg.loss)
    base = model_fingerprint(teacher)
    identity = {"base": base, "trainable": trainable_identity(spec), "method": cfg.method}
    module = SparseDistillModule(
        teacher,
        student,
        gate,
        instantiate(cfg.curriculum),
        loss,
        evaluator,
        instantiate(cfg.optim),
        cfg.method,
        (lambda e: classifier.logits(project(e))) if loss.logit_kd else None,
        identity,
        int(cfg.seed),
        bool(cfg.cache_targets),
    )
    data = ClipDataModule(
        train=datasets["train"],
        val=datasets["val"],
        test=datasets["test"],
        batch_size=int(cfg.batch_size),
        num_workers=int(cfg.num_workers),
        shuffle_train=True,
        seed=int(cfg.seed),
    )
    return DistillParts(module, data, model, student, names, base)


def build_trainer(cfg: DictConfig, run_dir: Path) -> Any:
    """The Lightning trainer: the configured callbacks, a CSV log and the W&B logger."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    # One CSV version per session: a resumed run adds logs/version_1, never overwrites.
    loggers: list[Any] = [CSVLogger(str(run_dir), name="logs")]
    log = cfg.logger
    if log.get("enabled") and log.get("mode") != "disabled":
        loggers.append(
            WandbLogger(
                project=log.get("project") or "neuroflow",
                save_dir=str(run_dir),
                mode=log.get("mode"),
                group=log.get("group") or cfg.task_name,
                tags=list(log.get("tags") or []),
                job_type="distill",
            )
        )
    return instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers, default_root_dir=str(run_dir)
    )


def resolve_checkpoint(ckpt_path: str | None, run_dir: Path) -> str | None:
    """The checkpoint to resume from: None (fresh), ``"last"`` (this run's) or a path.

    Raises:
        FileNotFoundError: The checkpoint does not exist (with how to point at a run).
    """
    if not ckpt_path:
        return None
    path = run_dir / CHECKPOINTS / "last.ckpt" if ckpt_path == "last" else Path(ckpt_path)
    if not path.is_file():
        hint = (
            f"no last.ckpt in {run_dir / CHECKPOINTS}: resume in the interrupted run's folder "
            "with hydra.run.dir=<that run> ckpt_path=last"
            if ckpt_path == "last"
            else f"checkpoint {path} does not exist"
        )
        raise FileNotFoundError(hint)
    return str(path)
