"""Common adapter over HF vision towers: embed, encode (block by block), pool.

A :class:`VisionTower` wraps an HF vision model without copying weights and exposes the
pieces the sparse architectures compose: the raw patch projection and the position
embedding separately (the gate can look at either), the encoder as a list of
:class:`~neuroflow.models.blocks.Block`, and the pooling head. ``tower(pixels)`` runs the
dense forward and equals the HF model's ``pooler_output``.

:meth:`VisionTower.fast_pool` is the pooling the architectures use. It equals :meth:`pool`
up to rounding, but SigLIP's MAP head runs folded (:mod:`neuroflow.models.map_head`: the
tokens' keys and values are never formed), on the packed CPU kernels where they apply
(:mod:`neuroflow.models.cpu_kernels`). Dense and sparse paths pool the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from neuroflow.core.packing import Packing
from neuroflow.models.blocks import Block
from neuroflow.models.cpu_kernels import Cached, MapHeadKernels, for_map_head
from neuroflow.models.map_head import MapHeadOps, foldable_map_head, folded_pool
from neuroflow.models.posemb import resize_patch_table, square_grid, stretch_factor


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
        pixels: ``[B, C, H, W]`` the frames themselves (for pixel-space gates), or None.
    """

    tokens: Tensor
    patch_features: Tensor
    position: Tensor
    grid: tuple[int, int]
    stretch: float
    pixels: Tensor | None = None

    def gate_features(self, signal: str) -> Tensor:
        """The gate's input: ``"patch"`` (raw projection), ``"embedding"`` (with position) or
        ``"pixels"`` (each patch's raw pixels, ``[B, N, C * p * p]``)."""
        if signal == "patch":
            return self.patch_features
        if signal == "pixels":
            return self.patch_pixels()
        return self.patch_features + self.position

    def patch_pixels(self) -> Tensor:
        """``[B, N, C * p * p]`` pixels of every patch, row-major like the tokens."""
        if self.pixels is None:
            raise ValueError("these embeddings were made without their frames (pixels=None)")
        b, c, h, w = self.pixels.shape
        rows, cols = self.grid
        p = h // rows
        x = self.pixels.reshape(b, c, rows, p, cols, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(b, rows * cols, c * p * p)


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
        self._head_kernels: Cached | None = None  # kept by for_map_head

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
    def rebuild_blocks(self) -> None:
        """Re-read :attr:`blocks` from :attr:`hf` after modules inside it were replaced.

        Blocks hold references to the HF layer's modules, so a module swapped in afterwards
        (a LoRA wrapper) is bypassed until the blocks are rebuilt. Each block keeps its
        ``cpu_kernels`` switch; the packed-kernel caches start empty.
        """
        switches = [block.cpu_kernels for block in self.blocks]
        self.blocks = nn.ModuleList(self._make_blocks())
        for block, on in zip(self.blocks, switches, strict=True):
            block.cpu_kernels = on
        self._head_kernels = None

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
        stretch = stretch_factor(self.native_side, grid)
        return Embedded(tokens, patches, position, grid, stretch, pixels)

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
        return for_map_head(self, head, x)

    def fast_pool(self, hidden: Tensor, sizes: Tensor | None = None) -> Tensor:
        """:meth:`pool` with SigLIP's MAP head folded (module doc); other heads unchanged.

        Args:
            hidden: ``[B, n, D]`` final-layer tokens.
            sizes: ``[B, n]`` how many original tokens each token stands for (merged tokens,
                ToMe); the MAP head then attends proportionally (``+ log size`` on its
                logits). Heads that pool a class token ignore it; None: all sizes 1.
        """
        head = foldable_map_head(self)
        if head is None:
            if sizes is not None and self.num_prefix_tokens == 0:
                raise ValueError(
                    "size-weighted pooling needs a class-token head or SigLIP's foldable MAP head"
                )
            return self.pool(hidden)
        x = self.hf.post_layernorm(hidden)
        kernels = self.head_kernels(head, x)
        ops = MapHeadOps(head) if kernels is None else kernels
        bias = None if sizes is None else sizes.to(x.dtype).log()[..., None]
        return folded_pool(x, ops, head.layernorm, bias)

    def pool_packed(self, hidden: Tensor, packing: Packing) -> Tensor:
        """Pool each stream of a packed batch over its own tokens only (Arch B)."""
        if packing.uniform:
            return self.fast_pool(hidden.view(packing.batch, -1, hidden.shape[-1]))
        segments = hidden.reshape(-1, hidden.shape[-1]).split(packing.lengths, dim=0)
        return torch.cat([self.fast_pool(seg.unsqueeze(0)) for seg in segments], dim=0)

    def forward(self, pixels: Tensor) -> Tensor:
        """Dense pooled embedding ``[B, D]``; equals the HF model's ``pooler_output``."""
        return self.pool(self.encode(self.embed(pixels).tokens))
