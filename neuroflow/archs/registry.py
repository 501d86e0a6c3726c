"""One registry of token-reduction methods: architectures and baselines, found by name.

A method is one :class:`~neuroflow.archs.base.Architecture` subclass decorated with
:func:`register_method`. The class itself declares everything the rest of neuroflow needs:

* ``name``: the registry key (``"C"``, ``"random_C"``, ...), matched case-insensitively;
* its settings: the keyword arguments of its ``__init__`` besides ``tower``, ``gate``,
  ``cache`` and ``refresh`` (``anchor`` for A, ``dense_layers`` for D), read off the
  signature; a ``refresh`` parameter means it takes an event-triggered refresh
  (:func:`takes_refresh`);
* ``uses_gate`` / ``uses_cache`` / ``gate_type``: what :func:`~neuroflow.archs.make_arch`
  builds for it;
* ``pools``: ``"all"`` (the head sees every token) or ``"active"`` (kept tokens only);
* its cost model, :meth:`~neuroflow.archs.base.Architecture.frame_flops` (FLOPs of one frame
  at keep fraction ``k``), which the benchmark's FLOP ceiling reads.

``make_arch``, the evaluator's config, the benchmark's methods, the ceiling and the exactness
tests all look methods up here, so a new method is one module plus one config file. Commands
that take a list of methods also take specs with inline settings (:func:`parse_spec`:
``"tome_paper:r=8"``, ``"C:max_cache_age=4"``).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from neuroflow.archs.base import Architecture

# Modules whose import registers the built-in methods. Baselines build on the architectures,
# so they are imported lazily, on the first lookup, instead of from ``neuroflow.archs``.
BUILTIN_MODULES = (
    "neuroflow.archs.base",
    "neuroflow.archs.mlp_skip",
    "neuroflow.archs.pruned",
    "neuroflow.archs.context",
    "neuroflow.baselines",
)
# Constructor parameters every method shares; everything else is a method-specific setting.
_SHARED = ("self", "tower", "gate", "cache", "refresh")
_METHODS: dict[str, type[Architecture]] = {}


def register_method(cls: type[Architecture]) -> type[Architecture]:
    """Class decorator: add ``cls`` to the registry under ``cls.name``.

    Raises:
        ValueError: Another class is already registered under that name.
    """
    key = cls.name.lower()
    if key in _METHODS and _METHODS[key] is not cls:
        raise ValueError(f"a method named {cls.name!r} is already registered")
    _METHODS[key] = cls
    return cls


def unregister_method(name: str) -> None:
    """Remove a method from the registry (tests, plugins that replace a method)."""
    _METHODS.pop(name.lower(), None)


@contextlib.contextmanager
def registered(cls: type[Architecture]) -> Iterator[type[Architecture]]:
    """Register ``cls`` for the duration of a ``with`` block."""
    register_method(cls)
    try:
        yield cls
    finally:
        unregister_method(cls.name)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def method_names() -> tuple[str, ...]:
    """Names of every registered method, in registration order."""
    _load_builtins()
    return tuple(cls.name for cls in _METHODS.values())


def get_method(name: str) -> type[Architecture]:
    """The method class registered under ``name`` (case-insensitive).

    Raises:
        ValueError: No method has that name (the message lists the known ones).
    """
    _load_builtins()
    cls = _METHODS.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(method_names())}")
    return cls


def method_settings(cls: type[Architecture]) -> dict[str, Any]:
    """Method-specific settings of ``cls`` with their defaults (``inspect.Parameter.empty``
    for a required one), read off its constructor."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {
        p.name: p.default
        for p in params
        if p.name not in _SHARED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def takes_refresh(cls: type[Architecture]) -> bool:
    """Whether ``cls`` takes an event-triggered refresh (a ``refresh`` constructor argument)."""
    return "refresh" in inspect.signature(cls.__init__).parameters


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"tome_paper:r=8"`` -> ``("tome_paper", {"r": 8})``: a method with inline settings.

    Settings follow the name after ``:``, separated by ``;``; each value is read as YAML
    (``keep_rates=[0.9,0.81,0.73]``, ``proportional=false``).

    Raises:
        ValueError: A setting without ``=``.
    """
    name, _, rest = spec.partition(":")
    settings: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(";"))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"method {spec!r}: settings are key=value pairs, got {part!r}")
        settings[key.strip()] = yaml.safe_load(value)
    return name.strip(), settings
