"""Build the towers and methods a benchmark names in its settings."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from neuroflow.archs import get_method, make_arch, method_names, method_settings
from neuroflow.bench.methods import ArchMethod, BenchMethod, HfDense, Repeated
from neuroflow.bench.plain_loop import PlainLoop
from neuroflow.core.gate import GateConfig
from neuroflow.models import load_vision_model
from neuroflow.models.sources import get_source
from neuroflow.models.tower import VisionTower

# Timing controls that are not token-reduction methods (every registered method is timed too).
CONTROLS = ("hf_dense", "plain", "dense_x2")


def known_methods() -> tuple[str, ...]:
    """Every name ``methods=[...]`` accepts: the registered methods and the timing controls."""
    return (*method_names(), *CONTROLS)


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


def build_tower(source: str, dtype: torch.dtype, device: str, seed: int = 0) -> LoadedTower:
    """Load ``source`` (a registered model source such as ``"random:siglip-b16"``, full size
    with random weights, or ``"tiny-siglip"``; a local directory; a hub id) in eval mode."""
    tower = load_vision_model(source, dtype=dtype, device=device, seed=seed).eval()
    registered = get_source(source)
    random_weights = registered is not None and registered.random_weights
    label = source.removeprefix("random:") if source.startswith("random:") else source
    return LoadedTower(
        tower, label + (" (random weights)" if random_weights else ""), random_weights
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
    """One method by name: a registered method (see :func:`known_methods`) or a control.

    Args:
        name: Method name.
        tower: The vision tower shared by every method.
        gate: Gate settings of the gated methods.
        keep_fraction: Keep fraction the threshold gate reaches on the clip; controls that
            choose patches by count (random keep) keep this share.
        dense_layers: Leading dense blocks of methods that take ``dense_layers`` (None: half).
        seed: Seed of stochastic gates (random keep).
    """
    if name not in known_methods():
        raise ValueError(f"unknown bench method {name!r}; choose from {', '.join(known_methods())}")
    if name == "hf_dense":
        return HfDense(tower)
    if name == "plain":
        return PlainLoop(tower, gate)
    if name == "dense_x2":
        return Repeated(ArchMethod(make_arch("dense", tower)), 2)
    cls = get_method(name)
    settings = {
        k: v for k, v in {"dense_layers": dense_layers}.items() if k in method_settings(cls)
    }
    if not cls.uses_gate:
        return ArchMethod(make_arch(name, tower, **settings))
    # A threshold gate ignores keep_fraction, so every gated method can read the matched share.
    matched = replace(gate, keep_fraction=keep_fraction) if gate.mode == "threshold" else gate
    return ArchMethod(make_arch(name, tower, gate=matched, seed=seed, **settings))


def build_methods(
    names: list[str], tower: VisionTower, gate: GateConfig, **kwargs: object
) -> dict[str, BenchMethod]:
    """Methods by name; ``dense`` is always included first (every speedup is against it)."""
    unknown = [n for n in names if n not in known_methods()]
    if unknown:
        raise ValueError(
            f"unknown bench methods {unknown}; choose from {', '.join(known_methods())}"
        )
    ordered = ["dense"] + [n for n in dict.fromkeys(names) if n != "dense"]
    return {n: build_method(n, tower, gate, **kwargs) for n in ordered}  # type: ignore[arg-type]
