"""Adapters over HF vision towers (SigLIP/SigLIP2, CLIP, ViT), named sources and loading."""

from neuroflow.models.blocks import Block
from neuroflow.models.clip import ClipTower
from neuroflow.models.errors import ModelNotAvailableError
from neuroflow.models.loading import load_vision_language_model, load_vision_model, wrap_tower
from neuroflow.models.siglip import SiglipTower
from neuroflow.models.sources import ModelSource, register_source, source_names
from neuroflow.models.tower import Embedded, VisionTower
from neuroflow.models.vit import VitTower

__all__ = [
    "Block",
    "ClipTower",
    "Embedded",
    "ModelNotAvailableError",
    "ModelSource",
    "SiglipTower",
    "VisionTower",
    "VitTower",
    "load_vision_language_model",
    "load_vision_model",
    "register_source",
    "source_names",
    "wrap_tower",
]
