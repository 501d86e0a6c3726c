"""Config -> objects for the evaluation run (model, architectures, data, classifier, trainer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import Dataset

from neuroflow.archs import Architecture, get_method, make_arch
from neuroflow.core.schedules import Schedule
from neuroflow.data.datamodule import ClipDataModule
from neuroflow.data.transforms import FrameTransform
from neuroflow.eval.zeroshot import ZeroShotClassifier, build_classifier, project_image
from neuroflow.models.dtypes import parse_dtype
from neuroflow.models.loading import load_vision_language_model, wrap_tower


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


def build_archs(cfg: DictConfig, tower: Any) -> tuple[Architecture, Architecture]:
    """Dense reference and the configured method over one tower.

    ``cfg.arch`` targets :func:`~neuroflow.archs.make_arch`; the gate group instantiates a
    :class:`~neuroflow.core.gate.GateConfig` and the cache group a
    :class:`~neuroflow.core.cache.CorticalCache`, passed only to methods that use them.
    """
    method = get_method(cfg.arch.name)
    gate = instantiate(cfg.gate) if method.uses_gate else None
    cache = instantiate(cfg.cache) if method.uses_cache else None
    # Built objects go to the partial call, not to instantiate (which turns dataclasses into
    # configs).
    build = instantiate(cfg.arch, _partial_=True)
    sparse = build(tower=tower, gate=gate, cache=cache, seed=int(cfg.seed))
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
        cfg.model.source,
        dtype=parse_dtype(cfg.model.dtype),
        device=cfg.model.device,
        adapter=cfg.model.get("adapter"),
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


def build_datamodule(cfg: DictConfig, dataset: Dataset) -> ClipDataModule:
    """``dataset`` as the test set: deterministic, unshuffled batches of ``collate_clips``."""
    return ClipDataModule(
        test=dataset, batch_size=int(cfg.batch_size), num_workers=int(cfg.num_workers)
    )


def build_trainer(cfg: DictConfig) -> Any:
    """The Lightning trainer with the configured callbacks."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    return instantiate(cfg.trainer, callbacks=callbacks)
