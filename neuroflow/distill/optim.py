"""The distillation optimiser: AdamW, linear warm-up, cosine decay (one schedule per step)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuroflow.glyphs.train import StageConfig, param_groups, schedule


@dataclass(frozen=True)
class OptimSettings:
    """AdamW with linear warm-up and cosine decay.

    Attributes:
        lr: Peak learning rate.
        weight_decay: Decay of weight matrices (none on biases, norms, probes).
        warmup_steps: Linear warm-up steps.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
    """

    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            raise ValueError(f"invalid optimiser settings {self}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must lie in [0, 1], got {self.min_lr_ratio}")


def make_optimizer(
    module: nn.Module, settings: OptimSettings, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over ``module``'s trainable parameters and its per-step schedule.

    Raises:
        ValueError: ``module`` has no trainable parameter.
    """
    groups = param_groups([(module, settings.lr)], settings.weight_decay)
    if not groups:
        raise ValueError("the student has no trainable parameter")
    optimizer = torch.optim.AdamW(groups, lr=settings.lr, betas=tuple(settings.betas))
    stage = StageConfig(
        steps=max(1, total_steps),
        lr=settings.lr,
        warmup=settings.warmup_steps,
        min_lr_ratio=settings.min_lr_ratio,
    )
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(stage))
