"""Baselines the retinal gate is compared against (random keep, ...), each a registered method."""

from neuroflow.baselines.random_keep import (
    RandomKeepB,
    RandomKeepC,
    RandomKeepGate,
    RandomKeepState,
    random_keep_arch,
)

__all__ = ["RandomKeepB", "RandomKeepC", "RandomKeepGate", "RandomKeepState", "random_keep_arch"]
