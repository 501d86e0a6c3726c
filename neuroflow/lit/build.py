"""Config -> objects for the evaluation run (model, architectures, data, classifier, trainer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset

from neuroflow.archs import Architecture, make_arch
from neuroflow.core.gate import GateConfig
from neuroflow.core.schedules import Schedule
from neuroflow.data.dataset import collate_clips
from neuroflow.data.transforms import FrameTransform
from neuroflow.eval.zeroshot import ZeroShotClassifier, build_classifier, project_image
from neuroflow.models.loading import load_vision_language_model, wrap_tower

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class EvalParts:
    """Everything an evaluation run needs, built from its config."""

    dense: Architecture
    sparse: Architecture
    classifier: ZeroShotClassifier
    project: Callable[[torch.Tensor], torch.Tensor]
    schedule: Schedule | None
    dataset: Dataset
    class_names: list[str]


def gate_config(cfg: DictConfig) -> GateConfig:
    """The gate group as a validated :class:`GateConfig`."""
    return GateConfig(**OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]


def build_archs(cfg: DictConfig, tower: Any) -> tuple[Architecture, Architecture]:
    """Dense reference and the configured sparse architecture over one tower."""
    arch = OmegaConf.to_container(cfg.arch, resolve=True)
    name = str(arch.pop("name"))  # type: ignore[union-attr]
    if name.lower() == "dense":
        return make_arch("dense", tower), make_arch("dense", tower)
    cache = cfg.cache
    sparse = make_arch(
        name,
        tower,
        gate=gate_config(cfg.gate),
        cache_mode=cache.mode,
        cache_alpha=cache.alpha,
        **arch,
    )  # type: ignore[arg-type]
    return make_arch("dense", tower), sparse


def build_transform(cfg: DictConfig, processor: Any) -> FrameTransform:
    """Frame transform from the model's processor, with the config's size/resize overrides."""
    transform = FrameTransform.from_processor(processor, resize=cfg.model.resize)
    if cfg.model.image_size is not None:
        transform = FrameTransform(
            int(cfg.model.image_size),
            transform.mean.flatten().tolist(),
            transform.std.flatten().tolist(),
            transform.resize,
            transform.interpolation,
        )
    return transform


def build_parts(cfg: DictConfig) -> EvalParts:
    """Load the model and build architectures, classifier, schedule and dataset."""
    model, processor = load_vision_language_model(
        cfg.model.source, dtype=DTYPES[cfg.model.dtype], device=cfg.model.device
    )
    tower = wrap_tower(model)
    dense, sparse = build_archs(cfg, tower)
    dataset = instantiate(cfg.dataset, transform=build_transform(cfg, processor))
    class_names = list(cfg.prompts.class_names or getattr(dataset, "class_names", []))
    if not class_names:
        raise ValueError("no class names: set prompts.class_names or use a labelled dataset")
    classifier = build_classifier(model, processor, class_names, list(cfg.prompts.templates))
    schedule = instantiate(cfg.schedule) if cfg.get("schedule") else None
    project = partial(project_image, model)
    return EvalParts(dense, sparse, classifier, project, schedule, dataset, class_names)


def build_loader(cfg: DictConfig, dataset: Dataset) -> DataLoader:
    """Deterministic, unshuffled loader of clip batches."""
    return DataLoader(
        dataset,
        batch_size=int(cfg.batch_size),
        shuffle=False,
        num_workers=int(cfg.num_workers),
        collate_fn=collate_clips,
    )


def build_trainer(cfg: DictConfig) -> Any:
    """The Lightning trainer with the configured callbacks."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    return instantiate(cfg.trainer, callbacks=callbacks)
