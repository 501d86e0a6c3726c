"""Lightning wiring: the zero-shot evaluation module (thin; the logic lives in neuroflow.eval)."""

from neuroflow.lit.zero_shot import ZeroShotEvalModule

__all__ = ["ZeroShotEvalModule"]
