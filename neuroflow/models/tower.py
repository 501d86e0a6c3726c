"""Common adapter over HF vision towers: embed, encode (block by block), pool.

A :class:`VisionTower` wraps an HF vision model without copying weights and exposes the
pieces the sparse architectures compose: the raw patch projection and the position
embedding separately (the gate can look at either), the encoder as a list of
:class:`~neuroflow.models.blocks.Block`, and the pooling head. ``tower(pixels)`` runs the
dense forward and equals the HF model's ``pooler_output``.

:meth:`VisionTower.fast_pool` is the pooling the architectures use. It equals :meth:`pool`
up to rounding, but SigLIP's MAP head (one fixed probe attending over the tokens) runs
folded: the logits of head ``h`` are ``x_i . (W_k,h^T q_h)`` (the key bias adds a per-head
constant that softmax cancels) and its output is ``W_v,h (sum_i p_hi x_i) + b_v,h``, so the
key and value projections of the tokens are never formed and pooling N tokens costs
O(N D H) instead of O(N D^2). Dense and sparse paths pool the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroflow.core.packing import Packing
from neuroflow.models.blocks import Block, MapHeadKernels, fast_path_ok, weights_key
from neuroflow.models.posemb import resize_patch_table, square_grid, stretch_factor


def foldable_map_head(tower: VisionTower) -> nn.Module | None:
    """SigLIP's MAP head when its attention is a plain single-probe ``nn.MultiheadAttention``."""
    head = getattr(tower.hf, "head", None)
    attn = getattr(head, "attention", None)
    if tower.family != "siglip" or not isinstance(attn, nn.MultiheadAttention):
        return None
    plain = attn._qkv_same_embed_dim and attn.in_proj_bias is not None and attn.batch_first
    if not plain or attn.bias_k is not None or attn.add_zero_attn or head.probe.shape[1] != 1:
        return None
    return head


def folded_map_pool(tower: VisionTower, head: nn.Module, hidden: Tensor) -> Tensor:
    """SigLIP pooling ``head(post_layernorm(hidden))`` with the MAP head folded (module doc)."""
    attn = head.attention
    x = tower.hf.post_layernorm(hidden)
    kernels = tower.head_kernels(head, x)
    if kernels is not None:
        return kernels.pool(x, head.layernorm)
    d, heads = x.shape[-1], attn.num_heads
    w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
    b_q, _, b_v = attn.in_proj_bias.chunk(3)
    q = F.linear(head.probe.reshape(1, d), w_q, b_q).view(heads, -1) * (d // heads) ** -0.5
    u = torch.einsum("hc,hcd->hd", q, w_k.view(heads, -1, d))  # [H, D]
    p = torch.softmax(torch.matmul(x, u.t()), dim=1)  # [B, n, H]
    mixed = torch.matmul(p.transpose(1, 2), x)  # [B, H, D]
    v = torch.einsum("bhd,hcd->bhc", mixed, w_v.view(heads, -1, d)) + b_v.view(heads, -1)
    out = attn.out_proj(v.reshape(-1, d))
    return out + head.mlp(head.layernorm(out))


@dataclass
class Embedded:
    """Layer-0 view of one frame batch.

    Attributes:
        tokens: ``[B, P + N, D]`` encoder input (class tokens first, position added, any
            pre-encoder norm applied).
        patch_features: ``[B, N, D]`` patch projection without position embedding.
        position: ``[N, D]`` patch position table for this grid.
        grid: Patch grid (rows, cols).
        stretch: PE stretch factor against the native grid.
    """

    tokens: Tensor
    patch_features: Tensor
    position: Tensor
    grid: tuple[int, int]
    stretch: float

    def gate_features(self, signal: str) -> Tensor:
        """The gate's input: ``"patch"`` (raw projection) or ``"embedding"`` (with position)."""
        if signal == "patch":
            return self.patch_features
        return self.patch_features + self.position


class VisionTower(nn.Module):
    """Base adapter; subclasses name the HF modules of one model family.

    Args:
        model: The HF vision model (e.g. ``SiglipVisionModel``).
    """

    family = "base"
    num_prefix_tokens = 0

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.hf = model
        self.config = model.config
        self.patch_size = int(self.config.patch_size)
        self.hidden_size = int(self.config.hidden_size)
        self.num_channels = int(getattr(self.config, "num_channels", 3))
        self.blocks = nn.ModuleList(self._make_blocks())
        self.native_side = square_grid(self._position_weight().shape[0] - self.num_prefix_tokens)
        self._table_cache: dict[tuple, Tensor] = {}
        self._head_kernels: MapHeadKernels | None = None

    # --- what a family adapter provides -------------------------------------------------
    def _make_blocks(self) -> list[Block]:
        raise NotImplementedError

    def _patch_conv(self) -> nn.Conv2d:
        raise NotImplementedError

    def _position_weight(self) -> Tensor:
        """The learned ``[P + N, D]`` position table (class rows first)."""
        raise NotImplementedError

    def _class_tokens(self) -> Tensor | None:
        """``[P, D]`` class-token embeddings, or None."""
        return None

    def pre_encoder_norm(self, tokens: Tensor) -> Tensor:
        """Norm applied between embeddings and the first block (CLIP's ``pre_layrnorm``)."""
        return tokens

    def pool(self, hidden: Tensor) -> Tensor:
        """Pooled ``[B, D]`` embedding of final-layer tokens ``[B, n, D]`` (before post-norm)."""
        raise NotImplementedError

    # --- shared machinery ---------------------------------------------------------------
    @property
    def native_image_size(self) -> int:
        """Input side the position table was trained for."""
        return self.native_side * self.patch_size

    def grid_for(self, height: int, width: int) -> tuple[int, int]:
        """Patch grid of an input; raises when the size is not a multiple of the patch."""
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f"input size {height}x{width} is not a multiple of the patch size "
                f"{self.patch_size}; resize frames to e.g. {self.native_image_size}x"
                f"{self.native_image_size} first"
            )
        return height // self.patch_size, width // self.patch_size

    def num_patches(self, height: int, width: int) -> int:
        """Patch tokens for an input size."""
        rows, cols = self.grid_for(height, width)
        return rows * cols

    def patch_position(self, grid: tuple[int, int]) -> Tensor:
        """``[N, D]`` patch position table resized to ``grid`` (cached when not training)."""
        weight = self._position_weight()[self.num_prefix_tokens :]
        if grid == (self.native_side, self.native_side):
            return weight
        if torch.is_grad_enabled() and weight.requires_grad:
            return resize_patch_table(weight, grid)
        key = (grid, weight.device, weight.dtype, weight._version, weight.data_ptr())
        table = self._table_cache.get(key)
        if table is None:
            self._table_cache = {key: resize_patch_table(weight.detach(), grid)}
            table = self._table_cache[key]
        return table

    def embed(self, pixels: Tensor) -> Embedded:
        """Patch projection, position embedding and class tokens of a ``[B, C, H, W]`` batch."""
        grid = self.grid_for(pixels.shape[-2], pixels.shape[-1])
        conv = self._patch_conv()
        patches = conv(pixels.to(conv.weight.dtype)).flatten(2).transpose(1, 2)
        position = self.patch_position(grid)
        tokens = patches + position
        cls = self._class_tokens()
        if cls is not None:
            cls_pos = self._position_weight()[: self.num_prefix_tokens]
            prefix = (cls + cls_pos).expand(pixels.shape[0], -1, -1)
            tokens = torch.cat([prefix, tokens], dim=1)
        tokens = self.pre_encoder_norm(tokens)
        return Embedded(tokens, patches, position, grid, stretch_factor(self.native_side, grid))

    def encode(
        self,
        tokens: Tensor,
        start: int = 0,
        stop: int | None = None,
        packing: Packing | None = None,
    ) -> Tensor:
        """Run blocks ``start:stop`` on ``tokens`` (plain ``[B, n, D]`` or ragged ``[1, T, D]``)."""
        for block in self.blocks[start:stop]:
            tokens = block(tokens, packing)
        return tokens

    def head_kernels(self, head: nn.Module, x: Tensor) -> MapHeadKernels | None:
        """Packed CPU kernels of a foldable MAP head (None where the plain path applies)."""
        if not fast_path_ok(x, head.attention.in_proj_weight) or not self.blocks[0].cpu_kernels:
            return None
        key = weights_key(list(head.parameters()))
        if key is None:
            return None
        cached = self._head_kernels
        if cached is None or cached.key != key:
            try:
                cached = MapHeadKernels(head, key)
            except (RuntimeError, AttributeError):  # no packed kernels, or an unusual MLP
                return None
            self._head_kernels = cached
        return cached

    def fast_pool(self, hidden: Tensor) -> Tensor:
        """:meth:`pool` with SigLIP's MAP head folded (module doc); other heads unchanged."""
        head = foldable_map_head(self)
        return self.pool(hidden) if head is None else folded_map_pool(self, head, hidden)

    def pool_packed(self, hidden: Tensor, packing: Packing) -> Tensor:
        """Pool each stream of a packed batch over its own tokens only (Arch B)."""
        if packing.uniform:
            return self.fast_pool(hidden.view(packing.batch, -1, hidden.shape[-1]))
        segments = hidden.reshape(-1, hidden.shape[-1]).split(packing.lengths, dim=0)
        return torch.cat([self.fast_pool(seg.unsqueeze(0)) for seg in segments], dim=0)

    def forward(self, pixels: Tensor) -> Tensor:
        """Dense pooled embedding ``[B, D]``; equals the HF model's ``pooler_output``."""
        return self.pool(self.encode(self.embed(pixels).tokens))
