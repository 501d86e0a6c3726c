"""Named model sources: what ``load_vision_model(name)`` builds when ``name`` is registered.

A source is a name bound to a loader. The built-ins are ``"tiny-siglip"``, ``"tiny-clip"``
and ``"tiny-vit"`` (small random towers, offline: tests and timing smoke runs) and
``"mini_siglip"`` (the project-trained SigLIP shipped in ``neuroflow/assets``). Any other
package can add its own::

    from neuroflow.models.sources import register_source

    register_source("my-tower", lambda seed: build_my_hf_vision_model(seed))
    tower = load_vision_model("my-tower")

Names that are not registered are read as a local directory or a hub id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModel,
    SiglipVisionConfig,
    SiglipVisionModel,
    ViTConfig,
    ViTModel,
)

from neuroflow.models import mini_siglip

VisionLoader = Callable[[int], nn.Module]
VisionLanguageLoader = Callable[[], tuple[nn.Module, object]]

TINY_KW = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=32,
    patch_size=4,
)
_TINY_CLASSES = {
    "siglip": (SiglipVisionModel, SiglipVisionConfig),
    "clip": (CLIPVisionModel, CLIPVisionConfig),
    "vit": (ViTModel, ViTConfig),
}


@dataclass(frozen=True)
class ModelSource:
    """A named way to build a model.

    Attributes:
        name: The name passed to the loaders.
        vision: ``vision(seed)`` returns the vision model: an HF model that
            :func:`~neuroflow.models.loading.wrap_tower` adapts (a full CLIP/SigLIP model
            is fine) or a ready :class:`~neuroflow.models.tower.VisionTower`. Loaders of
            trained weights ignore ``seed``.
        vision_language: ``vision_language()`` returns ``(model, processor)`` for zero-shot
            use, or None when the source has no text tower.
        description: One line for listings and error messages.
        random_weights: The weights are random (timing and FLOPs only, never accuracy).
    """

    name: str
    vision: VisionLoader
    vision_language: VisionLanguageLoader | None = None
    description: str = ""
    random_weights: bool = False


_SOURCES: dict[str, ModelSource] = {}


def register_source(
    name: str,
    loader: VisionLoader,
    *,
    vision_language: VisionLanguageLoader | None = None,
    description: str = "",
    random_weights: bool = False,
    replace: bool = False,
) -> ModelSource:
    """Make ``name`` loadable by ``load_vision_model`` (and ``load_vision_language_model``).

    Args:
        name: Source name; it takes precedence over a directory or hub id of that name.
        loader: ``loader(seed) -> nn.Module``, see :attr:`ModelSource.vision`.
        vision_language: Optional ``() -> (model, processor)`` with a text tower.
        description: One line describing the source.
        random_weights: The loader makes random weights (results label them so).
        replace: Allow re-registering an existing name.

    Returns:
        The registered :class:`ModelSource`.

    Raises:
        ValueError: ``name`` is already registered and ``replace`` is False.
    """
    if name in _SOURCES and not replace:
        raise ValueError(f"model source {name!r} is already registered (pass replace=True)")
    source = ModelSource(name, loader, vision_language, description, random_weights)
    _SOURCES[name] = source
    return source


def unregister_source(name: str) -> None:
    """Remove a registered source (no error when absent)."""
    _SOURCES.pop(name, None)


def get_source(name: str) -> ModelSource | None:
    """The source registered as ``name``, or None."""
    return _SOURCES.get(name)


def source_names() -> list[str]:
    """Every registered source name, sorted."""
    return sorted(_SOURCES)


def tiny_vision_model(family: str, seed: int = 0) -> nn.Module:
    """A small random HF vision model of ``family`` (``"siglip"``, ``"clip"`` or ``"vit"``)."""
    if family not in _TINY_CLASSES:
        raise ValueError(f"unknown tiny model family {family!r}")
    model_cls, config_cls = _TINY_CLASSES[family]
    torch.manual_seed(seed)
    return model_cls(config_cls(**TINY_KW))


def _mini_siglip_vision(seed: int) -> nn.Module:
    del seed  # trained weights
    return mini_siglip.load_mini_siglip()[0]


register_source(
    "tiny-siglip",
    partial(tiny_vision_model, "siglip"),
    vision_language=mini_siglip.tiny_vision_language,
    description="random tiny SigLIP (32x32, patch 4); with a text tower for smoke runs",
    random_weights=True,
)
register_source(
    "tiny-clip",
    partial(tiny_vision_model, "clip"),
    description="random tiny CLIP vision tower",
    random_weights=True,
)
register_source(
    "tiny-vit",
    partial(tiny_vision_model, "vit"),
    description="random tiny ViT vision tower",
    random_weights=True,
)


def _seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build()


# Full-size architectures with random weights: timing and FLOPs only, never accuracy.
_FULL_SIZE = {
    "random:siglip-b16": lambda: SiglipVisionModel(SiglipVisionConfig()),
    "random:clip-b16": lambda: CLIPVisionModel(CLIPVisionConfig(patch_size=16)),
    "random:vit-b16": lambda: ViTModel(ViTConfig(), add_pooling_layer=False),
}
for _name, _build in _FULL_SIZE.items():
    register_source(
        _name,
        partial(_seeded, _build),
        description=f"full-size {_name.removeprefix('random:')} with random weights (timing)",
        random_weights=True,
    )
register_source(
    "mini_siglip",
    _mini_siglip_vision,
    vision_language=mini_siglip.load_mini_siglip,
    description=f"the project-trained glyph SigLIP shipped in {mini_siglip.SHIPPED_DIR}",
)
