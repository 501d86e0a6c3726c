"""Token gates of the Eventful baseline: per-stream references, caches and row selection.

Every gate of :class:`~neuroflow.baselines.eventful.Eventful` compares a value ``v`` of each
token with its *reference*, the value last used for that token, by the relative L2 error
``||v - ref|| / (||ref|| + eps)``, and picks the tokens to recompute. The error is relative
because token norms differ a lot between the three gated values (block input, attention
output, MLP input) and grow with depth in the residual stream: an absolute threshold would
have to be tuned per gate and per block, a relative one means "changed by this share" at
every gate, so one threshold serves them all.

Selections of different streams differ in size under the threshold policy (and on a
stream's dense first frame). :class:`TokenRows` gathers every stream's selected rows to the
batch's largest count, padding with rows of tokens that were *not* selected (so the gathered
indices of a stream never repeat and a scatter writes each slot once), and writes the old
value back in the padded slots: padding is computed and thrown away, never stored.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from neuroflow.archs.base import StreamState
from neuroflow.core.gate import stream_indices

EPS = 1e-6  # keeps the relative error finite for an all-zero reference
# The per-block buffers: name -> width in multiples of the hidden size D.
BUFFERS = {"x_ref": 1, "qkv": 3, "a_ref": 1, "o": 1, "h_ref": 1, "m": 1}


def relative_error(value: Tensor, ref: Tensor) -> Tensor:
    """``[B, T]`` float32 ``||value - ref|| / (||ref|| + eps)`` of ``[B, T, D]`` tensors."""
    diff = (value - ref).float().norm(dim=-1)
    return diff / (ref.float().norm(dim=-1) + EPS)


def top_count(keep_fraction: float, num_patches: int) -> int:
    """Patches ``r = ceil(keep_fraction * N)`` that every top-r gate recomputes (1 to N)."""
    return min(num_patches, max(1, math.ceil(keep_fraction * num_patches - 1e-9)))


def select_tokens(
    error: Tensor, fresh: Tensor, prefix: int, *, threshold: float, top: int | None
) -> Tensor:
    """``[B, T]`` bool: the tokens one gate recomputes.

    Args:
        error: ``[B, T]`` relative error of every token (class tokens first).
        fresh: ``[B]`` bool, streams on their first frame (everything is recomputed).
        prefix: Class tokens, always recomputed (one token each; they summarise the frame).
        threshold: Threshold policy: patches whose error exceeds it (strictly).
        top: Top-r policy: the ``top`` patches of largest error; None for threshold.
    """
    patches = error[:, prefix:]
    if top is None:
        chosen = patches > threshold
    else:
        chosen = torch.zeros_like(patches, dtype=torch.bool)
        chosen.scatter_(1, patches.topk(top, dim=1).indices, True)
    always = chosen.new_ones(chosen.shape[0], prefix)
    return torch.cat([always, chosen], dim=1) | fresh[:, None]


class TokenRows:
    """The rows one gate selected, gathered per stream to the batch's largest count.

    Args:
        selected: ``[B, T]`` bool selection.

    Attributes:
        index: ``[B, C]`` token indices (each stream's selected tokens first, then padding
            with unselected ones), or None when every token of every stream is selected.
        valid: ``[B, C]`` bool, False on padded slots; None when no slot is padded.
    """

    def __init__(self, selected: Tensor) -> None:
        self.index: Tensor | None = None
        self.valid: Tensor | None = None
        if bool(selected.all()):
            return  # the plain dense path: no gather, no scatter
        counts = selected.sum(dim=1)
        width = int(counts.max())
        # A stable sort on "not selected" lists the selected tokens first, in token order.
        order = torch.argsort((~selected).to(torch.uint8), dim=1, stable=True)
        self.index = order[:, :width]
        if bool((counts < width).any()):
            self.valid = torch.arange(width, device=selected.device) < counts[:, None]

    @property
    def empty(self) -> bool:
        """True when no stream selected a token."""
        return self.index is not None and self.index.shape[1] == 0

    def take(self, x: Tensor) -> Tensor:
        """``[B, C, D]`` rows of ``[B, T, D]`` ``x`` (``x`` itself when all are selected)."""
        if self.index is None:
            return x
        return x.gather(1, self._expand(x.shape[-1]))

    def put(self, buffer: Tensor, rows: Tensor) -> None:
        """Write ``rows`` ``[B, C, D']`` into ``buffer`` ``[B, T, D']`` in place.

        Padded slots get the buffer's own value back, so a padded row never changes a cache.
        """
        if self.index is None:
            buffer.copy_(rows)
            return
        index = self._expand(buffer.shape[-1])
        if self.valid is not None:
            rows = torch.where(self.valid[..., None], rows, buffer.gather(1, index))
        buffer.scatter_(1, index, rows.to(buffer.dtype))

    def _expand(self, width: int) -> Tensor:
        assert self.index is not None
        return self.index[..., None].expand(-1, -1, width)


class EventfulState(StreamState):
    """References and caches of every block for ``batch`` streams.

    Per block ``l`` (buffers ``[L, B, T, w * D]``, ``T = P + N``): ``x_ref`` the gated block
    input, ``qkv`` its queries, keys and values, ``a_ref`` the gated attention output, ``o``
    its output projection, ``h_ref`` the gated MLP input and ``m`` the MLP output. ``fresh``
    ``[B]`` marks streams whose next frame runs dense (and fills every buffer).

    Args:
        batch: Number of streams.
    """

    ROWS: ClassVar[dict[str, int | str]] = {"fresh": 0, **{name: 1 for name in BUFFERS}}
    LAZY_ROWS: ClassVar[tuple[str, ...]] = tuple(BUFFERS)

    def __init__(self, batch: int) -> None:
        super().__init__(batch, None)
        self.fresh = torch.ones(self.batch, dtype=torch.bool)
        self.x_ref: Tensor | None = None
        self.qkv: Tensor | None = None
        self.a_ref: Tensor | None = None
        self.o: Tensor | None = None
        self.h_ref: Tensor | None = None
        self.m: Tensor | None = None

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Start the given streams (all when None) afresh; their next frame runs dense."""
        fresh = self.fresh.clone()  # may have been made under inference_mode (stacking)
        fresh[stream_indices(self.batch, streams)] = True
        self.fresh = fresh

    def follow_grid(self, grid: tuple[int, int]) -> None:
        """Reset every stream, with a warning, when the frames' patch grid changes.

        References and caches are indexed by token position, so after a change of grid they
        describe other places of the image: the next frame runs dense, like a new stream.
        """
        grid = (int(grid[0]), int(grid[1]))
        if self.grid is not None and grid != self.grid:
            warnings.warn(
                f"frame grid changed from {self.grid[0]}x{self.grid[1]} to {grid[0]}x{grid[1]} "
                "patches (resolution or aspect change); resetting every stream of this state",
                RuntimeWarning,
                stacklevel=4,
            )
            self.reset()
            for name in BUFFERS:
                setattr(self, name, None)
        self.grid = grid

    def prepare(self, layers: int, tokens: int, like: Tensor) -> None:
        """Allocate the buffers for ``layers`` blocks of ``tokens`` tokens shaped like ``like``.

        Buffers made anew (first frame, another dtype or device) hold no reference: every
        stream is then marked fresh, so this frame runs dense and fills them.
        """
        dim = like.shape[-1]
        for name, width in BUFFERS.items():
            current = getattr(self, name)
            shape = (layers, self.batch, tokens, width * dim)
            if current is None or current.shape != shape or current.dtype != like.dtype:
                current = torch.zeros(shape, dtype=like.dtype, device=like.device)
                self.reset()
            elif current.device != like.device:
                current = current.to(like.device)
            elif current.is_inference() and not torch.is_inference_mode_enabled():
                current = current.clone()  # made under inference_mode, now updated outside it
            setattr(self, name, current)

    def layer(self, layer: int) -> tuple[Tensor, ...]:
        """Views ``[B, T, w * D]`` of block ``layer``'s buffers, in :data:`BUFFERS` order."""
        buffers = [getattr(self, name) for name in BUFFERS]
        if any(b is None for b in buffers):
            raise RuntimeError("the buffers are not allocated yet: call prepare() first")
        return tuple(b[layer] for b in buffers)

    def nbytes(self) -> int:
        """Bytes of per-stream state held for all streams."""
        tensors = [self.fresh, *(getattr(self, name) for name in BUFFERS)]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)
