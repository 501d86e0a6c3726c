"""Baselines the retinal gate is compared against (random keep, ...)."""

from neuroflow.baselines.random_keep import RandomKeepGate, RandomKeepState, random_keep_arch

__all__ = ["RandomKeepGate", "RandomKeepState", "random_keep_arch"]
