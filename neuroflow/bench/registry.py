"""Build the towers and methods a benchmark names in its settings."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModel,
    SiglipVisionConfig,
    SiglipVisionModel,
    ViTConfig,
    ViTModel,
)

from neuroflow.archs import make_arch
from neuroflow.bench.methods import ArchMethod, BenchMethod, HfDense, Repeated
from neuroflow.bench.plain_loop import PlainLoop
from neuroflow.core.gate import GateConfig
from neuroflow.models import load_vision_model, wrap_tower
from neuroflow.models.tower import VisionTower

# Full-size architectures with random weights: timing and FLOPs only, never accuracy.
RANDOM_TOWERS = {
    "siglip-b16": lambda: SiglipVisionModel(SiglipVisionConfig()),
    "clip-b16": lambda: CLIPVisionModel(CLIPVisionConfig(patch_size=16)),
    "vit-b16": lambda: ViTModel(ViTConfig(), add_pooling_layer=False),
}
METHODS = (
    "dense",
    "hf_dense",
    "A",
    "B",
    "C",
    "D",
    "plain",
    "random_B",
    "random_C",
    "dense_x2",
)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class LoadedTower:
    """A tower plus what the results must say about it.

    Attributes:
        tower: The tower, in eval mode on its device.
        label: Model label for the results.
        random_weights: True when the weights are random (timing only).
    """

    tower: VisionTower
    label: str
    random_weights: bool


def parse_dtype(name: str) -> torch.dtype:
    """``"float32"`` / ``"float16"`` / ``"bfloat16"`` -> torch dtype."""
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPES)}")
    return DTYPES[name]


def build_tower(source: str, dtype: torch.dtype, device: str, seed: int = 0) -> LoadedTower:
    """Load ``source``: ``"random:<arch>"`` (full-size, random), ``"tiny-*"``, a dir or hub id."""
    if source.startswith("random:"):
        name = source.removeprefix("random:")
        if name not in RANDOM_TOWERS:
            raise ValueError(
                f"unknown random tower {name!r}; choose one of {', '.join(RANDOM_TOWERS)}"
            )
        torch.manual_seed(seed)
        tower = wrap_tower(RANDOM_TOWERS[name]()).to(device=device, dtype=dtype).eval()
        return LoadedTower(tower, f"{name} (random weights)", True)
    tower = load_vision_model(source, dtype=dtype, device=device, seed=seed)
    random_weights = source.startswith("tiny-")
    return LoadedTower(
        tower, source + (" (random weights)" if random_weights else ""), random_weights
    )


def build_method(
    name: str,
    tower: VisionTower,
    gate: GateConfig,
    *,
    keep_fraction: float,
    dense_layers: int | None = None,
    seed: int = 0,
) -> BenchMethod:
    """One method by name (see :data:`METHODS`).

    Args:
        name: Method name.
        tower: The vision tower shared by every method.
        gate: Gate settings of the gated methods.
        keep_fraction: Keep fraction the random-keep control matches.
        dense_layers: Arch D's leading dense blocks (None: half).
        seed: Seed of the random-keep generators.
    """
    if name == "dense":
        return ArchMethod(make_arch("dense", tower))
    if name in ("A", "B", "C", "D"):
        extra = {"dense_layers": dense_layers} if name == "D" else {}
        return ArchMethod(make_arch(name, tower, gate=gate, **extra))
    if name == "plain":
        return PlainLoop(tower, gate)
    if name in ("random_B", "random_C"):
        from neuroflow.baselines.random_keep import random_keep_arch

        arch = random_keep_arch(
            name[-1], tower, keep_fraction, seed=seed, floor_tokens=gate.floor_tokens
        )
        return ArchMethod(arch, name=name, kind=name[-1])
    if name == "hf_dense":
        return HfDense(tower)
    if name == "dense_x2":
        return Repeated(ArchMethod(make_arch("dense", tower)), 2)
    raise ValueError(f"unknown bench method {name!r}; choose from {', '.join(METHODS)}")


def build_methods(
    names: list[str], tower: VisionTower, gate: GateConfig, **kwargs: object
) -> dict[str, BenchMethod]:
    """Methods by name; ``dense`` is always included first (every speedup is against it)."""
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f"unknown bench methods {unknown}; choose from {', '.join(METHODS)}")
    ordered = ["dense"] + [n for n in dict.fromkeys(names) if n != "dense"]
    return {n: build_method(n, tower, gate, **kwargs) for n in ordered}  # type: ignore[arg-type]
