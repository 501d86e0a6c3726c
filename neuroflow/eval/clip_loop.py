"""Stream a batch of clips through an architecture frame by frame: the one clip loop.

Every clip of the batch is its own stream and starts from fresh state (the per-clip
reset), so a clip's result does not depend on the others. Around each frame the loop
drives the sparse gate the way the evaluations need: a sparsity
:class:`~neuroflow.core.schedules.Schedule`, per-clip seeds for random gates, and
per-frame keep counts for gates that match another gate frame by frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from neuroflow.archs import Architecture
from neuroflow.core.schedules import Schedule

Projection = Callable[[Tensor], Tensor]


@dataclass
class ClipStream:
    """What an architecture produced on a batch of clips.

    The tensors are ``[B, T, ...]`` views of frame-major storage (one slice per frame, as
    the loop produced them), so ``.transpose(0, 1)`` gives back the frame-major tensors.

    Attributes:
        embeddings: ``[B, T, D]`` per-frame embeddings (projected when a projection was given).
        keep_mask: ``[B, T, N]`` bool, patches recomputed per frame (on the CPU).
        keep_fraction: ``[B, T]`` float32 share of patches recomputed per frame.
        seconds: Wall time of the architecture calls alone (no projection, no bookkeeping).
    """

    embeddings: Tensor
    keep_mask: Tensor
    keep_fraction: Tensor
    seconds: float


def _prepare_gate(
    gate_state: object, batch: int, counts: Tensor | None, seeds: Sequence[int] | None
) -> None:
    """Check that the gate takes what was asked of it, and seed it per clip."""
    if counts is not None:
        if not hasattr(gate_state, "set_counts"):
            raise ValueError("counts were given but the architecture's gate takes no counts")
        if counts.dim() != 2 or counts.shape[0] != batch:
            raise ValueError(f"counts must be [B={batch}, T], got {tuple(counts.shape)}")
    if seeds is not None and hasattr(gate_state, "reseed"):
        gate_state.reseed(list(seeds))  # type: ignore[attr-defined]


@torch.no_grad()
def stream_clips(
    arch: Architecture,
    clips: Tensor,
    *,
    schedule: Schedule | None = None,
    counts: Tensor | None = None,
    seeds: Sequence[int] | None = None,
    project: Projection | None = None,
) -> ClipStream:
    """Run ``arch`` over a batch of clips, one frame of every clip at a time.

    Args:
        arch: An architecture (dense, A-D, or one with a random-keep gate).
        clips: ``[B, T, 3, H, W]`` normalised frames.
        schedule: Sparsity schedule driving the gate (``begin_clip`` once, then
            ``before_frame`` / ``after_frame`` around every frame); ignored without a gate.
        counts: ``[B, T]`` patches to keep per clip and frame, for gates that take counts
            (random keep matched to another gate); None uses the gate's own rule.
        seeds: One seed per clip for random gates (so results do not depend on how clips
            are batched); ignored by gates that draw nothing.
        project: Applied to every frame's embedding (e.g. into the joint image-text space).

    Returns:
        The per-frame embeddings, keep masks and keep fractions, and the wall time.
    """
    batch, frames = clips.shape[:2]
    state = arch.new_state(batch)
    gate_state = state.gate
    _prepare_gate(gate_state, batch, counts, seeds)
    scheduled = schedule is not None and gate_state is not None
    if scheduled:
        schedule.begin_clip(gate_state)  # type: ignore[union-attr, arg-type]
    embeddings, masks, keeps, seconds = [], [], [], 0.0
    for t in range(frames):
        if scheduled:
            schedule.before_frame(t, gate_state)  # type: ignore[union-attr, arg-type]
        if counts is not None:
            gate_state.set_counts(counts[:, t])  # type: ignore[union-attr]
        start = time.perf_counter()
        out = arch(clips[:, t], state)
        seconds += time.perf_counter() - start
        if scheduled:
            schedule.after_frame(t, out.keep_fraction, gate_state)  # type: ignore[union-attr, arg-type]
        embeddings.append(project(out.embedding) if project is not None else out.embedding)
        masks.append(out.keep_mask)
        keeps.append(out.keep_fraction)
    # Stacked frame-major, exposed clip-major: callers that want [T, B, ...] get the very
    # tensors the loop built (same memory layout, so downstream reductions are unchanged).
    return ClipStream(
        embeddings=torch.stack(embeddings).transpose(0, 1),
        keep_mask=torch.stack(masks).cpu().transpose(0, 1),
        keep_fraction=torch.stack(keeps).float().transpose(0, 1),
        seconds=seconds,
    )
