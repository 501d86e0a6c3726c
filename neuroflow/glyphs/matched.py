"""Any registered method at a matched keep fraction, and the FLOPs it spends per frame.

Every method says how to run it at keep fraction ``k``
(:meth:`~neuroflow.archs.Architecture.keep_settings`): gated methods keep exactly ``k`` of
the patches per frame with a budget gate; ToMe, token dropping and per-block reuse resolve
``k`` into their own settings; a method with a :attr:`~neuroflow.archs.Architecture.calibrated`
setting (whole-frame reuse: its threshold) has it bisected on the calibration clips, never on
the test clips. A gated method that recomputes patches besides its gate's budget (a periodic
or event-triggered refresh) would overshoot ``k``: where it does on the calibration clips, its
budget is lowered until refreshes included it keeps ``k``. A method that cannot reach ``k`` on
the tower (ToMe on a shallow model, a refresh that alone costs more) is recorded as
unreachable with its reason instead of being run at another ``k``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor

from neuroflow.archs import Architecture, KeepUnreachable, get_method, make_arch
from neuroflow.archs.registry import parse_spec
from neuroflow.bench.measure import count_method_flops
from neuroflow.bench.methods import ArchMethod
from neuroflow.core.gate import GateConfig
from neuroflow.core.threshold_search import bisect_keep
from neuroflow.models.tower import VisionTower

CALIBRATION_TOL = 0.01  # a calibrated keep fraction this far from the target is a match
CALIBRATION_STEPS = 14


@dataclass
class Matched:
    """A method built to run at a keep fraction (or the reason it cannot).

    Attributes:
        name: Registry name.
        arch: The built method; None when unreachable.
        settings: The ``make_arch`` settings that set its keep fraction (calibrated one
            included).
        calibration_keep: Keep fraction the calibrated setting reached on the calibration
            clips (None when nothing was calibrated).
        unreachable: Why the method cannot run at the keep fraction, or None.
    """

    name: str
    arch: Architecture | None
    settings: dict[str, Any]
    calibration_keep: float | None = None
    unreachable: str | None = None


def gate_fields(config: GateConfig) -> dict[str, Any]:
    """A gate configuration as ``make_arch`` keyword settings."""
    return {f.name: getattr(config, f.name) for f in fields(config)}


def build_matched(
    name: str,
    tower: VisionTower,
    keep: float,
    gate: GateConfig,
    calibration_keep: Callable[[Architecture], float],
    seed: int = 0,
) -> Matched:
    """Build method ``name`` to run at keep fraction ``keep``.

    Args:
        name: A registered method, optionally with inline settings
            (:func:`~neuroflow.archs.registry.parse_spec`: ``"C:max_cache_age=4"``); they
            override its keep settings, and a calibrated setting given inline is not searched.
        tower: The vision tower.
        keep: Target keep fraction in (0, 1].
        gate: Gate settings shared by every gated method (EMA decay, floor, ...); the
            method's keep settings override its mode and keep fraction.
        calibration_keep: Mean keep fraction of a method on the calibration clips (used for a
            calibrated setting, and to check that a budget-gated method keeps ``keep``).
        seed: Seed of stochastic selections (random keep).
    """
    method, inline = parse_spec(name)
    cls = get_method(method)
    # Inline settings ("C:max_cache_age=4") come on top of the keep settings.
    settings = {**cls.keep_settings(keep), **inline}
    base = gate_fields(gate) if cls.uses_gate else {}

    def build(extra: dict[str, Any]) -> Architecture:
        return make_arch(method, tower, seed=seed, **{**base, **settings, **extra})

    try:
        if cls.keep_follows_gate() and "keep_fraction" not in inline:
            return _within_budget(name, build, settings, keep, calibration_keep)
        if cls.calibrated is None or cls.calibrated in inline:
            return Matched(name, build({}), settings)
        setting = cls.calibrated
        value, reached = bisect_keep(
            lambda v: calibration_keep(build({setting: v})),
            keep,
            tol=CALIBRATION_TOL / 2,
            steps=CALIBRATION_STEPS,
        )
    except KeepUnreachable as err:
        return Matched(name, None, settings, unreachable=str(err))
    settings = {**settings, setting: value}
    if abs(reached - keep) > CALIBRATION_TOL:
        why = f"{setting} reaches keep {reached:.3f} at best on the calibration clips"
        return Matched(name, None, settings, reached, why)
    return Matched(name, build({setting: value}), settings, reached)


def _within_budget(
    name: str,
    build: Callable[[dict[str, Any]], Architecture],
    settings: dict[str, Any],
    keep: float,
    calibration_keep: Callable[[Architecture], float],
) -> Matched:
    """A budget-gated method whose refreshes included keep ``keep`` on the calibration clips.

    The budget is searched as ``keep * (1 - v)``, ``v`` in [0, 1): the keep fraction never
    rises with ``v``, as :func:`bisect_keep` needs.
    """
    arch = build({})
    reached = calibration_keep(arch)
    if reached <= keep + CALIBRATION_TOL:
        return Matched(name, arch, settings)

    def budget(v: float) -> dict[str, Any]:
        return {"keep_fraction": max(keep * (1.0 - v), 1e-3)}

    value, reached = bisect_keep(
        lambda v: calibration_keep(build(budget(v))),
        keep,
        high=1.0,
        start=(0.0, reached),
        tol=CALIBRATION_TOL / 2,
        steps=CALIBRATION_STEPS,
    )
    settings = {**settings, **budget(value)}
    if abs(reached - keep) > CALIBRATION_TOL:
        why = f"its refreshes alone keep {reached:.3f} at the smallest budget"
        return Matched(name, None, settings, reached, why)
    return Matched(name, build(budget(value)), settings, reached)


def frame_flops(arch: Architecture, clips: Tensor) -> float:
    """Mean FLOPs of one frame of one stream after the first, counted with FlopCounterMode
    by the benchmark's counter (:func:`~neuroflow.bench.measure.count_method_flops`).

    Args:
        arch: The method.
        clips: ``[B, T, 3, H, W]`` normalised frames (a few clips suffice).
    """
    batch, frames = clips.shape[:2]
    if frames < 2:
        raise ValueError("counting steady-state FLOPs needs clips of at least 2 frames")
    counted = count_method_flops(ArchMethod(arch), list(clips.transpose(0, 1)), frames - 1)
    return counted.per_frame / batch
