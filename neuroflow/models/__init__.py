"""Adapters over HF vision towers (SigLIP/SigLIP2, CLIP, ViT) and their loading."""

from neuroflow.models.blocks import Block
from neuroflow.models.clip import ClipTower
from neuroflow.models.loading import ModelNotAvailableError, load_vision_model, wrap_tower
from neuroflow.models.siglip import SiglipTower
from neuroflow.models.tower import Embedded, VisionTower
from neuroflow.models.vit import VitTower

__all__ = [
    "Block",
    "ClipTower",
    "Embedded",
    "ModelNotAvailableError",
    "SiglipTower",
    "VisionTower",
    "VitTower",
    "load_vision_model",
    "wrap_tower",
]
