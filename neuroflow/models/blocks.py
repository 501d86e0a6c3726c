"""A pre-norm transformer block seen through its parts, so tokens can take different paths.

HF vision towers (SigLIP, CLIP, ViT) all compute
``h = h + attn(ln1(h)); h = h + mlp(ln2(h))``. :class:`Block` re-expresses that forward
over the HF layer's own modules (no weights copied) so that the attention can run per
stream on a ragged batch and the MLP can run on a subset of tokens (Arch A). With the same
inputs it performs exactly the HF layer's operations, which the exactness tests check.

On CPU without autograd the linear layers may run on packed oneDNN weights instead; the one
hook for that is :meth:`Block.kernels` (see :mod:`neuroflow.models.cpu_kernels`), and
``block.cpu_kernels = False`` turns it off.
"""

from __future__ import annotations

from torch import Tensor, nn

from neuroflow.core.attention import segment_attention
from neuroflow.core.packing import Packing
from neuroflow.models.cpu_kernels import BlockKernels, Cached, for_block


class Block(nn.Module):
    """View of one HF encoder layer as ``attention`` and ``mlp`` residual branches.

    Args:
        ln1: LayerNorm before attention.
        q_proj: Query projection.
        k_proj: Key projection.
        v_proj: Value projection.
        out_proj: Attention output projection.
        num_heads: Attention heads.
        ln2: LayerNorm before the MLP.
        mlp: The MLP module.
    """

    def __init__(
        self,
        ln1: nn.Module,
        q_proj: nn.Linear,
        k_proj: nn.Linear,
        v_proj: nn.Linear,
        out_proj: nn.Linear,
        num_heads: int,
        ln2: nn.Module,
        mlp: nn.Module,
    ) -> None:
        super().__init__()
        self.ln1, self.ln2, self.mlp = ln1, ln2, mlp
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = q_proj, k_proj, v_proj, out_proj
        self.num_heads = num_heads
        self.head_dim = q_proj.out_features // num_heads
        self.scale = self.head_dim**-0.5
        self.cpu_kernels = True  # may the packed CPU kernels take over (module doc)
        self._kernels: Cached | None = None  # their cache, kept by for_block

    def kernels(self, x: Tensor) -> BlockKernels | None:
        """The packed CPU kernels for input ``x``, or None where the plain path applies."""
        return for_block(self, x)

    @classmethod
    def from_clip_style(cls, layer: nn.Module) -> Block:
        """View of a SigLIP/CLIP encoder layer (``layer_norm1``, ``self_attn``, ``mlp``)."""
        attn = layer.self_attn
        return cls(
            layer.layer_norm1,
            attn.q_proj,
            attn.k_proj,
            attn.v_proj,
            attn.out_proj,
            attn.num_heads,
            layer.layer_norm2,
            layer.mlp,
        )

    def attention_delta(self, x: Tensor, packing: Packing | None = None) -> Tensor:
        """The attention branch ``attn(ln1(x))`` (without the residual).

        Args:
            x: ``[B, n, D]`` plain batch, or ``[1, T, D]`` ragged pack described by ``packing``.
            packing: Packing of a ragged batch; None (or uniform) for a plain batch.
        """
        q, k, v, kernels = self.qkv(self.ln1(x))
        out = segment_attention(q, k, v, packing, self.scale).transpose(1, 2).reshape(x.shape)
        return (self.out_proj if kernels is None else kernels.out)(out)

    def qkv(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor, BlockKernels | None]:
        """Queries, keys and values ``[B, H, n, d]`` of normalised tokens ``h``, and the
        packed CPU kernels used (None: the plain modules; their ``out`` projects the result)."""
        kernels = self.kernels(h)
        if kernels is not None:
            return (*kernels.qkv(h, self.num_heads), kernels)
        shape = (*h.shape[:-1], self.num_heads, self.head_dim)
        projections = (self.q_proj, self.k_proj, self.v_proj)
        q, k, v = (p(h).view(shape).transpose(1, 2) for p in projections)
        return q, k, v, None

    def mlp_delta(self, x: Tensor) -> Tensor:
        """The MLP branch ``mlp(ln2(x))`` (without the residual); token-wise."""
        h = self.ln2(x)
        kernels = self.kernels(h)
        if kernels is not None and kernels.mlp is not None:
            return kernels.mlp(h)
        return self.mlp(h)

    def forward(self, x: Tensor, packing: Packing | None = None) -> Tensor:
        """Full block on every token of ``x``."""
        x = x + self.attention_delta(x, packing)
        return x + self.mlp_delta(x)
