"""Ragged packing of the active tokens of many streams into one sequence.

Streams keep different numbers of tokens per frame. :func:`pack` gathers the active
tokens of all streams into one ``[T, D]`` tensor (``T`` = total active tokens) plus the
per-stream lengths; linear layers run on the packed tokens, attention runs per stream
(:func:`neuroflow.core.attention.segment_attention`), and :func:`unpack_into` scatters
results back into full-size ``[B, N, D]`` buffers. When every stream keeps the same count
the packed tensor is a plain ``[B, n, D]`` batch and attention is one batched call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class Packing:
    """Where the packed tokens came from.

    Attributes:
        flat_index: ``[T]`` positions of the packed tokens in the flattened ``[B * N]`` grid.
        lengths: Active-token count per stream (a host list: attention needs the split).
        num_tokens: ``N``, tokens per stream before packing.
        attention_cache: Per-packing tensors of :mod:`neuroflow.core.attention` (block
            mask, cumulative lengths), filled lazily and shared by every layer of a frame.
    """

    flat_index: Tensor
    lengths: list[int]
    num_tokens: int
    attention_cache: dict | None = field(default=None, repr=False, compare=False)

    @property
    def batch(self) -> int:
        """Number of streams."""
        return len(self.lengths)

    @property
    def uniform(self) -> bool:
        """True when every stream has the same length (plain batching applies)."""
        return len(set(self.lengths)) <= 1

    def offsets(self) -> list[int]:
        """Start of every stream's segment in the packed sequence."""
        out, total = [], 0
        for n in self.lengths:
            out.append(total)
            total += n
        return out


def make_packing(keep_mask: Tensor) -> Packing:
    """Describe the packing of ``keep_mask`` (``[B, N]`` bool)."""
    b, n = keep_mask.shape
    flat_index = keep_mask.reshape(-1).nonzero().squeeze(1)
    lengths = keep_mask.sum(dim=1).tolist()  # the one host sync per frame
    return Packing(flat_index, [int(x) for x in lengths], n)


def pack(tokens: Tensor, packing: Packing) -> Tensor:
    """Gather the active tokens: ``[B, N, D]`` -> ``[T, D]``."""
    return tokens.reshape(-1, tokens.shape[-1]).index_select(0, packing.flat_index)


def unpack_into(buffer: Tensor, packed: Tensor, packing: Packing) -> Tensor:
    """Write packed tokens back into their slots of ``buffer`` (``[B, N, D]``), in place."""
    buffer.view(-1, buffer.shape[-1]).index_copy_(0, packing.flat_index, packed.to(buffer.dtype))
    return buffer


def to_layout(packed: Tensor, packing: Packing) -> Tensor:
    """Shape packed ``[T, D]`` tokens for the blocks.

    A uniform packing becomes a plain ``[B, n, D]`` batch; a ragged one a single
    ``[1, T, D]`` sequence whose attention
    :func:`~neuroflow.core.attention.segment_attention` keeps within each stream.
    """
    if packing.uniform:
        return packed.view(packing.batch, -1, packed.shape[-1])
    return packed.unsqueeze(0)
