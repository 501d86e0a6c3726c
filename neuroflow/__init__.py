"""neuroflow: temporal token sparsity for Vision Transformers on video.

The public names load on first use: ``import neuroflow`` (or a light module such as
``neuroflow.reporting`` that reads ``__version__``) does not pull in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ArchOutput": "neuroflow.archs",
    "StreamState": "neuroflow.archs",
    "make_arch": "neuroflow.archs",
    "CorticalCache": "neuroflow.core",
    "GateConfig": "neuroflow.core",
    "RetinalGate": "neuroflow.core",
    "ModelNotAvailableError": "neuroflow.models",
    "load_vision_model": "neuroflow.models",
    "wrap_tower": "neuroflow.models",
}
__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neuroflow' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
