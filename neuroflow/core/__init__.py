"""Pure-torch core: retinal gate, cortical cache, ragged packing (no Hydra/Lightning/wandb)."""

from neuroflow.core.attention import (
    segment_attention,
    set_attention_backend,
    use_attention_backend,
    varlen_available,
)
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateConfig, GateOutput, GateState, RetinalGate
from neuroflow.core.packing import Packing, make_packing, pack, unpack_into
from neuroflow.core.protocols import Gate, GateStateLike

__all__ = [
    "CorticalCache",
    "Gate",
    "GateConfig",
    "GateOutput",
    "GateState",
    "GateStateLike",
    "Packing",
    "RetinalGate",
    "make_packing",
    "pack",
    "segment_attention",
    "set_attention_backend",
    "unpack_into",
    "use_attention_backend",
    "varlen_available",
]
