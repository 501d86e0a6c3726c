"""Per-clip sparsity curriculum: every training clip runs at its own gate setting.

The paper re-samples the threshold and the EMA decay for each clip so that the student
sees every sparsity regime (its code: θ ~ U(0.0001, 0.35), α ~ U(0.001, 0.1)). Budget
mode samples a keep fraction instead; the gate keeps the same count in every stream of a
batch (static shapes), so one keep fraction is drawn per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor

from neuroflow.core.gate import GateConfig

CurriculumMode = Literal["threshold", "budget"]
# The gate's valid ranges (neuroflow.core.gate): the range of a curriculum must lie inside.
VALID = {"threshold": (0.0, 2.0), "ema_decay": (0.0, 1.0), "keep_fraction": (0.0, 1.0)}


@dataclass(frozen=True)
class Draw:
    """One batch's gate settings: per-clip threshold and EMA decay, one keep fraction."""

    threshold: Tensor
    ema_decay: Tensor
    keep_fraction: float | None


def _check_range(name: str, value: Sequence[float]) -> tuple[float, float]:
    if len(value) != 2:
        raise ValueError(f"curriculum {name} must be a [low, high] range, got {list(value)}")
    low, high = float(value[0]), float(value[1])
    lo, hi = VALID[name]
    # EMA decay and keep fraction exclude 0 (a gate that never updates / keeps nothing).
    low_ok = low >= lo if name == "threshold" else low > lo
    if not (low_ok and high <= hi and low <= high):
        bracket = "[" if name == "threshold" else "("
        raise ValueError(
            f"curriculum {name} range [{low}, {high}] lies outside the gate's valid range "
            f"{bracket}{lo}, {hi}] (or low > high)"
        )
    return low, high


@dataclass(frozen=True)
class Curriculum:
    """Ranges the gate settings of each training clip are drawn from (uniformly).

    Attributes:
        mode: ``"threshold"`` (per-clip θ and α, the paper) or ``"budget"`` (one keep
            fraction per batch, per-clip α).
        threshold: ``[low, high]`` surprise threshold, within the gate's [0, 2].
        ema_decay: ``[low, high]`` EMA decay, within (0, 1].
        keep_fraction: ``[low, high]`` keep fraction of budget mode, within (0, 1].
    """

    mode: CurriculumMode = "threshold"
    threshold: tuple[float, float] = (0.0001, 0.35)
    ema_decay: tuple[float, float] = (0.001, 0.1)
    keep_fraction: tuple[float, float] = (0.05, 0.5)

    def __post_init__(self) -> None:
        if self.mode not in ("threshold", "budget"):
            raise ValueError(f"curriculum mode must be 'threshold' or 'budget', got {self.mode!r}")
        for name in ("threshold", "ema_decay", "keep_fraction"):
            object.__setattr__(self, name, _check_range(name, getattr(self, name)))

    def draw(self, batch: int, generator: torch.Generator) -> Draw:
        """Gate settings for a batch of ``batch`` clips."""

        def uniform(bounds: tuple[float, float], n: int) -> Tensor:
            low, high = bounds
            return low + (high - low) * torch.rand(n, generator=generator)

        keep = float(uniform(self.keep_fraction, 1)) if self.mode == "budget" else None
        return Draw(uniform(self.threshold, batch), uniform(self.ema_decay, batch), keep)

    def gate_config(self, base: GateConfig, draw: Draw) -> GateConfig:
        """The gate of a batch: ``base`` (floor, signal, dense first frame) in this mode."""
        if draw.keep_fraction is None:
            return replace(base, mode="threshold")
        return replace(base, mode="budget", keep_fraction=draw.keep_fraction)
