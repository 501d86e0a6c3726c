"""Dense and sparse architectures as compositions of tower, gate and cache.

Every method (architecture or baseline) is registered by name in
:mod:`neuroflow.archs.registry`; :func:`make_arch` builds any of them.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from neuroflow.archs.base import (
    Architecture,
    ArchOutput,
    Dense,
    KeepUnreachable,
    StreamState,
    check_frames,
)
from neuroflow.archs.mlp_skip import ArchA
from neuroflow.archs.pruned import ArchB, ArchC, ArchD
from neuroflow.archs.registry import (
    get_method,
    method_names,
    method_settings,
    register_method,
    registered,
    takes_refresh,
    unregister_method,
)
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateConfig
from neuroflow.core.protocols import Gate
from neuroflow.core.refresh import EventRefresh
from neuroflow.models.tower import VisionTower

GATE_SETTINGS = tuple(f.name for f in fields(GateConfig))
CACHE_SETTINGS = ("cache_mode", "cache_alpha")
REFRESH_SETTINGS = tuple(f"refresh_{f.name}" for f in fields(EventRefresh))


def make_arch(
    name: str,
    tower: VisionTower,
    *,
    gate: Gate | GateConfig | None = None,
    cache: CorticalCache | None = None,
    refresh: EventRefresh | None = None,
    seed: int = 0,
    **settings: Any,
) -> Architecture:
    """Build the registered method ``name`` over ``tower``.

    Args:
        name: A registered method (:func:`method_names`: ``"dense"``, ``"A"``, ``"B"``,
            ``"C"``, ``"D"``, ``"random_B"``, ``"random_C"``, ...), case-insensitive.
        tower: The vision tower (see :func:`neuroflow.load_vision_model`).
        gate: A ready gate object (anything that follows :class:`~neuroflow.core.Gate`) or
            a :class:`GateConfig`; when None, the gate settings among ``settings`` build one.
        cache: Cortical-cache policy of methods that keep a cache (C, D); or pass
            ``cache_mode`` / ``cache_alpha``.
        refresh: Event-triggered refresh of methods that take one (C, D, E); or pass its
            fields prefixed ``refresh_`` (``refresh_signal``, ``refresh_trigger``,
            ``refresh_response``, ``refresh_budget``).
        seed: Seed of stochastic gates (random keep); the retinal gate ignores it.
        **settings: Gate settings (fields of :class:`GateConfig`: ``threshold``,
            ``ema_decay``, ``mode``, ``keep_fraction``, ``floor_tokens``, ...), cache settings
            and the method's own settings (``anchor`` for A, ``dense_layers`` for D).

    Returns:
        The architecture module; call ``arch.new_state(batch)`` then ``arch(frames, state)``.

    Raises:
        ValueError: An unknown method, or a setting that does not apply to it (named).
    """
    cls = get_method(name)
    own = method_settings(cls)
    # A method's own setting of the same name as a gate setting (``keep_fraction`` of ToMe)
    # goes to the method.
    gate_kwargs = {k: settings.pop(k) for k in GATE_SETTINGS if k in settings and k not in own}
    cache_kwargs = {
        k.removeprefix("cache_"): settings.pop(k) for k in CACHE_SETTINGS if k in settings
    }
    refresh = _refresh(cls, refresh, settings)
    _reject(cls, [k for k in settings if k not in own], "")
    kwargs: dict[str, Any] = dict(settings)
    if refresh is not None:
        kwargs["refresh"] = refresh
    if cls.uses_gate:
        kwargs["gate"] = _gate(cls, gate, gate_kwargs, seed)
    else:
        _reject(cls, [*gate_kwargs, *(["gate"] if gate is not None else [])], "takes no gate: ")
    if cls.uses_cache:
        if cache is not None and cache_kwargs:
            raise ValueError("pass either a cache object or cache_mode/cache_alpha, not both")
        kwargs["cache"] = cache if cache is not None else CorticalCache(**cache_kwargs)
    else:
        extra = [*(f"cache_{k}" for k in cache_kwargs), *(["cache"] if cache is not None else [])]
        _reject(cls, extra, "keeps no cache: ")
    return cls(tower, **kwargs)


def _refresh(cls: type[Architecture], refresh: Any, settings: dict) -> EventRefresh | None:
    """The event-triggered refresh: as given, or from ``refresh_*`` settings."""
    fields_given = {
        k.removeprefix("refresh_"): settings.pop(k) for k in REFRESH_SETTINGS if k in settings
    }
    if refresh is None and not fields_given:
        return None
    if not takes_refresh(cls):
        given = [*(f"refresh_{k}" for k in fields_given), *(["refresh"] if refresh else [])]
        _reject(cls, given, "takes no event-triggered refresh: ")
    if refresh is not None and fields_given:
        raise ValueError("pass either a refresh object or refresh_* settings, not both")
    return refresh if refresh is not None else EventRefresh(**fields_given)


def _gate(cls: type[Architecture], gate: Any, gate_kwargs: dict, seed: int) -> Gate:
    """The gate of a gated method: as given, from a config, or from keyword settings."""
    if isinstance(gate, GateConfig) or gate is None:
        config = gate if gate is not None else GateConfig(**gate_kwargs)
        if gate is not None and gate_kwargs:
            raise ValueError(f"gate settings {sorted(gate_kwargs)} given next to a GateConfig")
        return cls.gate_type.from_config(config, seed=seed)
    if not isinstance(gate, Gate):
        raise TypeError(
            f"gate must be a GateConfig or a gate object with config, new_state and step; "
            f"got {type(gate).__name__}"
        )
    if gate_kwargs:
        raise ValueError("pass gate settings to the gate object, not to make_arch")
    return gate


def accepted_settings(cls: type[Architecture]) -> tuple[str, ...]:
    """Every keyword ``make_arch`` accepts for ``cls`` besides ``gate``/``cache``/``seed``."""
    gate = GATE_SETTINGS if cls.uses_gate else ()
    cache = CACHE_SETTINGS if cls.uses_cache else ()
    refresh = REFRESH_SETTINGS if takes_refresh(cls) else ()
    return tuple(dict.fromkeys((*method_settings(cls), *gate, *cache, *refresh)))


def _reject(cls: type[Architecture], names: list[str], why: str) -> None:
    if names:
        accepted = ", ".join(accepted_settings(cls)) or "none"
        raise ValueError(
            f"{', '.join(sorted(names))} does not apply to method {cls.name!r} ({why}it takes: "
            f"{accepted})"
        )


__all__ = [
    "ArchA",
    "ArchB",
    "ArchC",
    "ArchD",
    "ArchOutput",
    "Architecture",
    "Dense",
    "KeepUnreachable",
    "StreamState",
    "accepted_settings",
    "check_frames",
    "get_method",
    "make_arch",
    "method_names",
    "method_settings",
    "register_method",
    "registered",
    "takes_refresh",
    "unregister_method",
]
