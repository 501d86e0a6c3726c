"""FLOPs per frame, counted with :class:`torch.utils.flop_counter.FlopCounterMode`.

All figures are FLOPs (a multiply-add counts 2), never MACs. PyTorch's counter knows the
CUDA attention kernels but neither the CPU flash kernel nor oneDNN's packed linear layer
(the blocks' CPU path), so :data:`EXTRA_FORMULAS` registers both (those this torch build
has); without them every attention matmul and every linear layer on CPU would count as zero.

:func:`measure_breakdown` splits a tower's dense cost into the parts the ceiling model needs
(patch embedding, per-token linear work of the attention and MLP branches, the quadratic
attention matmuls, and the pooling head as ``fixed + per_token * n``) by counting each part on
its own, so the model matches whatever the tower actually runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from neuroflow.models.cpu_kernels import torch_op
from neuroflow.models.tower import VisionTower


def _cpu_sdpa_flop(
    query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any
) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _packed_linear_flop(x_shape: Any, w_shape: Any, *args: Any, **kwargs: Any) -> int:
    rows = 1
    for size in x_shape[:-1]:
        rows *= size
    return 2 * rows * x_shape[-1] * w_shape[0]


_EXTRA_OPS: dict[tuple[str, str], Callable[..., int]] = {
    ("aten", "_scaled_dot_product_flash_attention_for_cpu"): _cpu_sdpa_flop,
    ("mkldnn", "_linear_pointwise"): _packed_linear_flop,
}


def extra_formulas() -> dict[Any, Callable[..., int]]:
    """FLOP formulas for the CPU ops PyTorch's counter lacks, for those this build has.

    The ops are private, so a build may lack one; an op that is absent is never run, and
    leaving it out keeps ``import neuroflow.bench`` working there.
    """
    formulas: dict[Any, Callable[..., int]] = {}
    for (namespace, name), formula in _EXTRA_OPS.items():
        op = torch_op(namespace, name)
        if op is not None:
            formulas[op] = formula
    return formulas


EXTRA_FORMULAS = extra_formulas()
_ATTENTION_OPS = ("scaled_dot_product", "_flash_attention", "_efficient_attention")


def flop_counter() -> FlopCounterMode:
    """A silent :class:`FlopCounterMode` that also counts CPU attention and packed linears."""
    return FlopCounterMode(display=False, custom_mapping=EXTRA_FORMULAS)


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, Any]:
    """FLOPs of one call of ``fn`` (under ``inference_mode``) and its result."""
    with torch.inference_mode(), flop_counter() as counter:
        result = fn(*args, **kwargs)
    return counter.get_total_flops(), result


def split_attention(fn: Callable[..., Any], *args: Any) -> tuple[int, int]:
    """``(attention, other)`` FLOPs of ``fn(*args)``: attention = scaled-dot-product ops."""
    with torch.inference_mode(), flop_counter() as counter:
        fn(*args)
    attention = other = 0
    for op, flops in counter.get_flop_counts().get("Global", {}).items():
        if any(tag in str(op) for tag in _ATTENTION_OPS):
            attention += flops
        else:
            other += flops
    return attention, other


@dataclass(frozen=True)
class FlopBreakdown:
    """Dense cost of one frame of one stream, split for the ceiling model.

    Attributes:
        num_patches: Patch tokens ``N`` at this resolution.
        num_prefix: Class tokens ``P`` (always processed).
        layers: Encoder blocks.
        hidden_size: Token width ``D``.
        patch_embed: FLOPs of the patch projection (always dense: the gate needs it).
        attn_linear: Per-token FLOPs of Q, K, V and output projections, all blocks.
        mlp: Per-token FLOPs of the MLPs, all blocks.
        attention: FLOPs of the attention matmuls per squared token count, all blocks.
        head_fixed: FLOPs of the architectures' pooling (``tower.fast_pool``) that do not
            grow with the pooled token count.
        head_per_token: Its FLOPs per pooled token.
        hf_head_fixed: The same for the HF model's own head (``tower.pool``; the plain loop
            and ``hf_dense``); None when it equals the architectures' head.
        hf_head_per_token: Per-token FLOPs of the HF head (e.g. the MAP head's K/V).
        num_heads: Attention heads per block (methods that score tokens by attention).
    """

    num_patches: int
    num_prefix: int
    layers: int
    hidden_size: int
    patch_embed: float
    attn_linear: float
    mlp: float
    attention: float
    head_fixed: float
    head_per_token: float
    hf_head_fixed: float | None = None
    hf_head_per_token: float | None = None
    num_heads: int | None = None

    @property
    def tokens(self) -> int:
        """Encoder tokens of a dense frame (``P + N``)."""
        return self.num_patches + self.num_prefix

    def block_cost(self, n: float, layers: float, mlp_tokens: float | None = None) -> float:
        """FLOPs of ``layers`` blocks on ``n`` tokens (MLP on ``mlp_tokens``, default ``n``)."""
        share = layers / self.layers
        m = n if mlp_tokens is None else mlp_tokens
        return share * (self.attn_linear * n + self.mlp * m + self.attention * n * n)

    def head(self, n: float) -> float:
        """Pooling-head FLOPs over ``n`` tokens."""
        return self.head_fixed + self.head_per_token * n

    def hf_head(self, n: float) -> float:
        """FLOPs of the HF model's own head over ``n`` tokens."""
        if self.hf_head_fixed is None or self.hf_head_per_token is None:
            return self.head(n)
        return self.hf_head_fixed + self.hf_head_per_token * n

    @property
    def dense(self) -> float:
        """FLOPs of one dense frame."""
        n = self.tokens
        return self.patch_embed + self.block_cost(n, self.layers) + self.head(n)

    def fractions(self) -> dict[str, float]:
        """Shares of the dense cost: patch embed, linear, attention, head (sum to 1)."""
        n, total = self.tokens, self.dense
        return {
            "patch_embed": self.patch_embed / total,
            "linear": (self.attn_linear + self.mlp) * n / total,
            "attention": self.attention * n * n / total,
            "head": self.head(n) / total,
        }

    def to_dict(self) -> dict[str, float]:
        """Plain dict with the dense total and the fractions."""
        return {
            **asdict(self),
            "dense": self.dense,
            **{f"f_{k}": v for k, v in self.fractions().items()},
        }


def measure_breakdown(tower: VisionTower, image_size: int) -> FlopBreakdown:
    """Count the parts of a dense ``image_size`` frame of ``tower`` with FlopCounterMode.

    Args:
        tower: The vision tower (its dtype and device are used).
        image_size: Square input side.
    """
    param = next(tower.parameters())
    pixels = torch.zeros(
        1, tower.num_channels, image_size, image_size, dtype=param.dtype, device=param.device
    )
    patch_embed, emb = count_flops(lambda x: tower._patch_conv()(x), pixels)
    n_patch = tower.num_patches(image_size, image_size)
    n = n_patch + tower.num_prefix_tokens
    x = torch.randn(1, n, tower.hidden_size, dtype=param.dtype, device=param.device)
    attention = attn_linear = mlp = 0
    for block in tower.blocks:
        att, lin = split_attention(block.attention_delta, x)
        attention, attn_linear = attention + att, attn_linear + lin
        mlp += count_flops(block.mlp_delta, x)[0]
    head_fixed, per_token = _linear_cost(tower.fast_pool, x)
    hf_fixed, hf_per_token = _linear_cost(tower.pool, x)
    del emb
    return FlopBreakdown(
        num_patches=n_patch,
        num_prefix=tower.num_prefix_tokens,
        layers=len(tower.blocks),
        hidden_size=tower.hidden_size,
        num_heads=tower.blocks[0].num_heads,
        patch_embed=float(patch_embed),
        attn_linear=attn_linear / n,
        mlp=mlp / n,
        attention=attention / (n * n),
        head_fixed=head_fixed,
        head_per_token=per_token,
        hf_head_fixed=hf_fixed,
        hf_head_per_token=hf_per_token,
    )


def _linear_cost(fn: Callable[[Tensor], Any], x: Tensor) -> tuple[float, float]:
    """``(fixed, per_token)`` FLOPs of ``fn`` on ``x`` ``[1, n, D]`` (linear in ``n``)."""
    n = x.shape[1]
    half = max(1, n // 2)
    with torch.inference_mode():
        fn(x)  # one-time preparation (e.g. packed head weights) is not per-frame work
    full, _ = count_flops(fn, x)
    part, _ = count_flops(fn, x[:, :half])
    per_token = (full - part) / (n - half) if n > half else 0.0
    return full - per_token * n, per_token
