"""Build the towers and methods a benchmark names in its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from neuroflow.archs import (
    GATE_SETTINGS,
    KeepUnreachable,
    get_method,
    make_arch,
    method_names,
    method_settings,
)
from neuroflow.archs.registry import parse_spec
from neuroflow.bench.methods import ArchMethod, BenchMethod, HfDense, Repeated
from neuroflow.bench.plain_loop import PlainLoop
from neuroflow.core.gate import GateConfig, RetinalGate
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


def build_tower(
    source: str,
    dtype: torch.dtype,
    device: str,
    seed: int = 0,
    adapter: str | Path | None = None,
) -> LoadedTower:
    """Load ``source`` (a registered model source such as ``"random:siglip-b16"``, full size
    with random weights, or ``"tiny-siglip"``; a local directory; a hub id) in eval mode,
    with a distilled ``adapter`` file merged in when given (the label names it)."""
    tower = load_vision_model(source, dtype=dtype, device=device, seed=seed, adapter=adapter)
    registered = get_source(source)
    random_weights = registered is not None and registered.random_weights
    label = source.removeprefix("random:") if source.startswith("random:") else source
    label += "" if adapter is None else f" + adapter {Path(adapter).name}"
    return LoadedTower(
        tower.eval(), label + (" (random weights)" if random_weights else ""), random_weights
    )


def build_method(
    spec: str,
    tower: VisionTower,
    gate: GateConfig,
    *,
    keep_fraction: float,
    dense_layers: int | None = None,
    seed: int = 0,
) -> BenchMethod:
    """One method by name: a registered method (see :func:`known_methods`) or a control.

    Args:
        spec: Method name, optionally with inline settings (:func:`parse_spec`); the row
            label is the whole spec.
        tower: The vision tower shared by every method.
        gate: Gate settings of the gated methods.
        keep_fraction: Keep fraction the threshold gate reaches on the clip. Methods whose
            keep fraction is not their retinal gate's run at it through their own
            :meth:`~neuroflow.archs.Architecture.keep_settings`, unless inline settings set
            them.
        dense_layers: Leading dense blocks of methods that take ``dense_layers`` (None: half).
        seed: Seed of stochastic gates (random keep).
    """
    name, inline = parse_spec(spec)
    if name not in known_methods():
        raise ValueError(f"unknown bench method {name!r}; choose from {', '.join(known_methods())}")
    if name in CONTROLS and inline:
        raise ValueError(f"the timing control {name!r} takes no settings")
    if name == "hf_dense":
        return HfDense(tower)
    if name == "plain":
        return PlainLoop(tower, gate)
    if name == "dense_x2":
        return Repeated(ArchMethod(make_arch("dense", tower)), 2)
    cls = get_method(name)
    own = method_settings(cls)
    settings = {k: v for k, v in {"dense_layers": dense_layers}.items() if k in own}
    settings.update(inline)
    label = spec if inline else None
    if cls.calibrated is not None and cls.calibrated not in inline:
        # Its keep fraction follows from that setting on the clip; the benchmark does not
        # search it (the threshold it searches is the retinal gate's per patch).
        raise KeepUnreachable(
            f"{name}'s {cls.calibrated} sets its keep fraction and the benchmark does not "
            f"search it; give it inline, e.g. '{name}:{cls.calibrated}=0.05'"
        )
    if not (cls.keep_follows_gate() and cls.gate_type is RetinalGate):
        # Its own settings (ToMe's r, ...) or a budget gate of its own kind set its keep
        # fraction; gated ones keep the gate's other settings, and a calibrated setting the
        # searched gate's value.
        base = {f.name: getattr(gate, f.name) for f in fields(gate)} if cls.uses_gate else {}
        keep = {} if inline else cls.keep_settings(keep_fraction)
        arch = make_arch(name, tower, seed=seed, **{**base, **keep, **settings})
        return ArchMethod(arch, label)
    # A threshold gate ignores keep_fraction, so every gated method can read the matched share.
    matched = replace(gate, keep_fraction=keep_fraction) if gate.mode == "threshold" else gate
    # Inline gate settings ("C:max_cache_age=4;stagger=true") change this method's gate only.
    own_gate = {k: settings.pop(k) for k in GATE_SETTINGS if k in settings and k not in own}
    matched = replace(matched, **own_gate)
    return ArchMethod(make_arch(name, tower, gate=matched, seed=seed, **settings), label)


def build_methods(
    names: list[str],
    tower: VisionTower,
    gate: GateConfig,
    *,
    on_unreachable: Callable[[str, str], None] | None = None,
    **kwargs: object,
) -> dict[str, BenchMethod]:
    """Methods by name; ``dense`` is always included first (every speedup is against it).

    Args:
        names: Method specs (:func:`build_method`).
        tower: The vision tower.
        gate: Gate settings of the gated methods.
        on_unreachable: Called with ``(spec, reason)`` for a method that cannot run at the
            keep fraction on this tower (ToMe on too few tokens), which is then left out;
            None raises instead.
        **kwargs: :func:`build_method`'s keywords.
    """
    unknown = [n for n in names if parse_spec(n)[0] not in known_methods()]
    if unknown:
        raise ValueError(
            f"unknown bench methods {unknown}; choose from {', '.join(known_methods())}"
        )
    ordered = ["dense"] + [n for n in dict.fromkeys(names) if n != "dense"]
    methods = {}
    for name in ordered:
        try:
            methods[name] = build_method(name, tower, gate, **kwargs)  # type: ignore[arg-type]
        except KeepUnreachable as err:
            if on_unreachable is None:
                raise
            on_unreachable(name, str(err))
    return methods
