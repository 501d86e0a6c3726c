"""neuroflow: temporal token sparsity for Vision Transformers on video."""

from neuroflow.archs import ArchOutput, StreamState, make_arch
from neuroflow.core import CorticalCache, GateConfig, RetinalGate
from neuroflow.models import ModelNotAvailableError, load_vision_model, wrap_tower

__version__ = "0.1.0"

__all__ = [
    "ArchOutput",
    "CorticalCache",
    "GateConfig",
    "ModelNotAvailableError",
    "RetinalGate",
    "StreamState",
    "load_vision_model",
    "make_arch",
    "wrap_tower",
    "__version__",
]
