"""Grid keep: recompute a uniformly spread, rotating share of the patches each frame.

:class:`GridKeepGate` has the retinal gate's interface, so it drops into Arch C in place of
:class:`~neuroflow.core.gate.RetinalGate`: same encoder, same cortical cache, only *which*
patches are recomputed differs. It is the content-blind, deterministic counterpart of
random keep: a fixed refresh pattern that touches every patch regularly.

The pattern. Every patch grid of ``R x C`` patches gets one fixed visiting order
(:func:`grid_order`), a permutation of the ``N = R * C`` patches. Order position ``j`` is
the patch at row ``rho[j mod R]`` and column ``sigma[(j + j // L) mod C]`` (``L = lcm(R,
C)``), where ``rho`` and ``sigma`` are low-discrepancy permutations of the rows and columns
(ranks of the R2 sequence ``frac(t / p)``, ``frac(t / p^2)``, ``p`` the plastic number).
Each stream holds a phase (an offset into the order); a frame keeps the ``m`` patches at
order positions ``offset, ..., offset + m - 1`` (mod ``N``) and advances the offset by ``m``.

Its guarantees:

* Rows: a window of ``m`` consecutive positions holds row ``rho[j mod R]`` for ``m``
  consecutive residues ``j mod R`` (``N`` is a multiple of ``R``, so also across the wrap),
  hence every row gets ``floor(m / R)`` or ``ceil(m / R)`` kept patches: per-row counts
  differ by at most 1. Columns advance by one (two at a block boundary) per position, so
  per-column counts differ by at most 2 on the grids tested.
* Coverage: ``ceil(N / m)`` consecutive frames cover ``>= N`` consecutive positions, i.e.
  every patch; since ``m >= k * N``, that is within ``ceil(1 / k)`` frames.
* Within a frame the kept patches follow the R2 sequence: spread over the image, no clumps.

Registered as the method ``"grid_C"``: ``make_arch("grid_C", tower, keep_fraction=0.2)``
(or a :class:`~neuroflow.core.gate.GateConfig`, whose ``keep_fraction``, ``floor_tokens``
and ``dense_first_frame`` it reads).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from neuroflow.archs.base import StreamState
from neuroflow.archs.pruned import ArchC
from neuroflow.archs.registry import register_method
from neuroflow.baselines.random_keep import CountGate
from neuroflow.core.checks import check_counts, check_floor
from neuroflow.core.gate import GateConfig, GateOutput, stream_indices
from neuroflow.models.tower import Embedded

_PLASTIC = 1.324717957244746  # root of x^3 = x + 1: its powers give the R2 sequence


def _spread_ranks(n: int, step: float) -> Tensor:
    """Permutation ``t -> rank of frac(t * step)`` of ``range(n)``: consecutive ``t`` land
    far apart and every prefix is spread evenly (a 1-D low-discrepancy order)."""
    values = (torch.arange(n, dtype=torch.float64) * step) % 1.0
    return values.argsort(stable=True).argsort()


@functools.lru_cache(maxsize=64)
def grid_order(rows: int, cols: int) -> Tensor:
    """The visiting order of a ``rows x cols`` patch grid: ``[N]`` row-major patch indices.

    Position ``j`` is the patch ``(rho[j mod rows], sigma[(j + j // lcm) mod cols])`` (see
    the module docstring); every patch appears exactly once. Do not modify the result: it
    is cached.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"patch grid must be at least 1x1, got {rows}x{cols}")
    rho = _spread_ranks(rows, 1.0 / _PLASTIC)
    sigma = _spread_ranks(cols, 1.0 / _PLASTIC**2)
    j = torch.arange(rows * cols)
    col = sigma[(j + j // math.lcm(rows, cols)) % cols]
    return rho[j % rows] * cols + col


def _infer_grid(num_patches: int) -> tuple[int, int]:
    """A square grid when ``N`` is a square number, else one row (any grid is valid)."""
    side = math.isqrt(num_patches)
    return (side, side) if side * side == num_patches else (1, num_patches)


class GridKeepState:
    """Per-stream state of a :class:`GridKeepGate`: phase, fresh flags, frames, counts.

    Args:
        batch: Number of streams.
    """

    # Per-stream rows (attribute -> batch axis), for stacking streams (neuroflow.core.rows).
    ROWS: ClassVar[dict[str, int]] = {"offset": 0, "fresh": 0, "frames": 0, "counts": 0}

    def __init__(self, batch: int) -> None:
        if int(batch) != batch or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch}")
        self.batch = int(batch)
        self.offset = torch.zeros(self.batch, dtype=torch.long)
        self.fresh = torch.ones(self.batch, dtype=torch.bool)
        self.frames = torch.zeros(self.batch, dtype=torch.long)
        self.counts: Tensor | None = None

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Start the given streams (all when None) afresh: dense next frame, phase 0."""
        idx = stream_indices(self.batch, streams)
        self.fresh[idx] = True
        self.frames[idx] = 0
        self.offset[idx] = 0

    def set_counts(self, counts: Tensor | Sequence[int] | None) -> None:
        """Patches to keep per stream on the next frames (None: use the keep fraction)."""
        self.counts = check_counts(counts, self.batch)

    def nbytes(self) -> int:
        """Bytes of tensor state held for all streams."""
        tensors = [self.offset, self.fresh, self.frames, self.counts]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)


class GridKeepGate(CountGate):
    """Keeps a rotating, uniformly spread share of the patches; deterministic.

    Args:
        keep_fraction: Share of patches kept per frame, in (0, 1].
        floor_tokens: Minimum patches kept per frame.
        dense_first_frame: Keep every patch on a stream's first frame (fills the cache).
    """

    @classmethod
    def from_config(cls, config: GateConfig, seed: int = 0) -> GridKeepGate:
        """Grid keep at ``config.keep_fraction`` (``seed`` is unused: nothing is drawn)."""
        return cls(config.keep_fraction, config.floor_tokens, config.dense_first_frame)

    def new_state(self, batch: int) -> GridKeepState:
        """A fresh state for ``batch`` independent streams."""
        return GridKeepState(batch)

    @torch.no_grad()
    def step(
        self, features: Tensor, state: GridKeepState, grid: tuple[int, int] | None = None
    ) -> GateOutput:
        """Choose the kept patches of one frame of every stream.

        Args:
            features: ``[B, N, D]`` layer-0 features (only the shape is used).
            state: The streams' state; updated in place.
            grid: ``(rows, cols)`` of the patch grid (``grid_C`` passes the frame's); None
                assumes a square grid, or one row when ``N`` is not a square number.
        """
        if features.dim() != 3:
            raise ValueError(f"gate features must be [B, N, D], got shape {tuple(features.shape)}")
        b, n, _ = features.shape
        check_floor(self.config.floor_tokens, n)
        if b != state.batch:
            raise ValueError(
                f"frame batch has {b} streams but the state was made for {state.batch}"
            )
        rows, cols = grid if grid is not None else _infer_grid(n)
        if rows * cols != n:
            raise ValueError(f"patch grid {rows}x{cols} does not hold the frame's {n} patches")
        counts = state.counts if state.counts is not None else torch.full((b,), self.count(n))
        counts = counts.to(state.offset.device).clamp(max=n)
        keep = self._window(grid_order(rows, cols), state.offset, counts)
        fresh = state.fresh.clone()
        dense = fresh if self.config.dense_first_frame else torch.zeros_like(fresh)
        keep |= dense[:, None]
        # A dense frame refreshed everything: the rotation starts after it, at phase 0.
        state.offset = torch.where(dense, state.offset, (state.offset + counts) % n)
        return self.finish(keep, fresh, state, features)

    @staticmethod
    def _window(order: Tensor, offset: Tensor, counts: Tensor) -> Tensor:
        """``[B, N]`` mask of the patches at order positions ``offset .. offset+count-1``."""
        n = order.numel()
        steps = torch.arange(n)
        positions = (offset[:, None] + steps) % n  # one permutation of the positions per row
        chosen = steps[None, :] < counts[:, None]
        return torch.zeros(len(offset), n, dtype=torch.bool).scatter_(1, order[positions], chosen)


@register_method
class GridKeepC(ArchC):
    """Arch C's encoder and cortical cache with a rotating uniform grid of patches kept."""

    name = "grid_C"
    gate_type = GridKeepGate

    def gate_step(self, emb: Embedded, state: StreamState) -> GateOutput:
        """Run the gate with the frame's patch grid (its pattern is laid out on the grid)."""
        if not isinstance(self.gate, GridKeepGate):
            return super().gate_step(emb, state)  # another gate: it takes no grid
        assert state.gate is not None
        state.follow_grid(emb.grid)
        features = emb.gate_features(self.gate.config.signal)
        return self.gate.step(features, state.gate, grid=emb.grid)  # type: ignore[arg-type]
