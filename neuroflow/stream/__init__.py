"""Serving many camera streams through one encoder (pure torch; no Hydra/Lightning/wandb)."""

from neuroflow.stream.engine import StreamEngine, StreamFrame
from neuroflow.stream.stats import StreamStats, attribute_seconds

__all__ = ["StreamEngine", "StreamFrame", "StreamStats", "attribute_seconds"]
