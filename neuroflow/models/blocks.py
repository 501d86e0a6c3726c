"""A pre-norm transformer block seen through its parts, so tokens can take different paths.

HF vision towers (SigLIP, CLIP, ViT) all compute
``h = h + attn(ln1(h)); h = h + mlp(ln2(h))``. :class:`Block` re-expresses that forward
over the HF layer's own modules (no weights copied) so that the attention can run per
stream on a ragged batch and the MLP can run on a subset of tokens (Arch A). With the same
inputs it performs exactly the HF layer's operations, which the exactness tests check.

CPU speed: without autograd, on CPU, the linear layers run through oneDNN with weights packed
once into its blocked layout (Q, K and V as one matrix; the MLP's GELU fused into its first
layer). Packed weights keep a matrix product fast however few tokens a frame keeps, which is
what sparse frames need (MKL's plain GEMM loses about a fifth of its speed below ~64 rows).
The packed copy (about the size of the linear weights) is rebuilt whenever a weight changes;
``block.cpu_kernels = False`` turns the path off. Results equal the plain path up to float
rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroflow.core.packing import Packing, segment_attention

PACK_ROWS = 64  # row-count hint for oneDNN's weight layout; any row count works with it
_FAST_DTYPES = (torch.float32, torch.bfloat16)


def onednn_available() -> bool:
    """True when this torch build can pack linear weights for oneDNN."""
    ops = torch.ops.mkldnn
    return torch.backends.mkldnn.is_available() and hasattr(ops, "_reorder_linear_weight")


def fast_path_ok(x: Tensor, weight: Tensor) -> bool:
    """True when ``x`` may take the packed oneDNN path: CPU, no autograd, dtype of ``weight``."""
    if x.device.type != "cpu" or torch.is_grad_enabled() or x.dtype not in _FAST_DTYPES:
        return False
    return x.dtype == weight.dtype and onednn_available()


def weights_key(tensors: list[Tensor]) -> tuple | None:
    """Identity and version of every tensor: changes whenever one is replaced or updated.

    None for weights created under ``torch.inference_mode()``: such tensors keep no version
    counter, so an in-place update could not be noticed and nothing may be cached from them.
    """
    if any(t.is_inference() for t in tensors):
        return None
    return tuple((t.data_ptr(), t._version, t.dtype) for t in tensors)


def gelu_kind(activation: Callable[[Tensor], Tensor]) -> str | None:
    """``"tanh"`` / ``"none"`` when ``activation`` is GELU (tanh / exact form), else None."""
    probe = torch.linspace(-6.0, 6.0, 97)
    with torch.no_grad():
        out = activation(probe)
    for kind in ("tanh", "none"):
        if torch.allclose(out, F.gelu(probe, approximate=kind), atol=1e-6, rtol=0):
            return kind
    return None


def _dropped() -> None:
    return None


class _Rebuilt:
    """A cache that copies and pickles as None: its oneDNN tensors have no storage to copy,
    and the owner rebuilds it on first use."""

    def __deepcopy__(self, memo: dict) -> None:
        return None

    def __reduce__(self) -> tuple:
        return (_dropped, ())


class PackedLinear:
    """A linear layer (``x W^T + b``) on oneDNN with the weight pre-packed; optional GELU.

    Args:
        weight: ``[out, in]`` weight.
        bias: ``[out]`` bias or None.
        gelu: Fuse a GELU of this kind (``"tanh"`` or ``"none"``) after the product.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, gelu: str | None = None) -> None:
        self.out_features = weight.shape[0]
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), PACK_ROWS)
        self.bias = None if bias is None else bias.detach()
        self.attr, self.algorithm = ("gelu", gelu) if gelu else ("none", "")

    def __call__(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, x.shape[-1])
        out = torch.ops.mkldnn._linear_pointwise(
            flat, self.weight, self.bias, self.attr, [], self.algorithm
        )
        return out.view(*x.shape[:-1], self.out_features)


class CpuKernels(_Rebuilt):
    """The packed linear layers of one block, and the weights they were packed from."""

    def __init__(self, block: Block, key: tuple) -> None:
        self.key = key
        q, k, v = block.q_proj, block.k_proj, block.v_proj
        bias = None if q.bias is None else torch.cat([q.bias, k.bias, v.bias])
        self.qkv = PackedLinear(torch.cat([q.weight, k.weight, v.weight]), bias)
        self.out = PackedLinear(block.out_proj.weight, block.out_proj.bias)
        mlp = block.mlp
        self.act: Callable[[Tensor], Tensor] | None = None
        self.fc1 = self.fc2 = None
        if isinstance(getattr(mlp, "fc1", None), nn.Linear) and hasattr(mlp, "activation_fn"):
            kind = gelu_kind(mlp.activation_fn)
            self.act = None if kind else mlp.activation_fn
            self.fc1 = PackedLinear(mlp.fc1.weight, mlp.fc1.bias, gelu=kind)
            self.fc2 = PackedLinear(mlp.fc2.weight, mlp.fc2.bias)

    def mlp(self, h: Tensor) -> Tensor:
        """The MLP on packed weights."""
        assert self.fc1 is not None and self.fc2 is not None
        hidden = self.fc1(h)
        return self.fc2(hidden if self.act is None else self.act(hidden))


class MapHeadKernels(_Rebuilt):
    """SigLIP's MAP head prepared for folded pooling on CPU (see ``models/tower.py``).

    Holds ``u = W_k^T q`` per head (a function of the weights only) and packed linears for
    the value projection, the output projection and the head's MLP.

    Args:
        head: The MAP head (``probe``, ``attention``, ``layernorm``, ``mlp``).
        key: :func:`weights_key` of the weights it was built from.
    """

    def __init__(self, head: nn.Module, key: tuple) -> None:
        attn, mlp = head.attention, head.mlp
        d, heads = attn.embed_dim, attn.num_heads
        w_q, w_k, w_v = attn.in_proj_weight.detach().chunk(3)
        b_q, _, b_v = attn.in_proj_bias.detach().chunk(3)
        q = F.linear(head.probe.detach().reshape(1, d), w_q, b_q).view(heads, -1)
        q = q * (d // heads) ** -0.5
        self.key, self.heads = key, heads
        self.u = torch.einsum("hc,hcd->dh", q, w_k.reshape(heads, -1, d)).contiguous()  # [D, H]
        self.value = PackedLinear(w_v, b_v)
        self.out = PackedLinear(attn.out_proj.weight, attn.out_proj.bias)
        kind = gelu_kind(mlp.activation_fn)
        self.act = None if kind else mlp.activation_fn
        self.fc1 = PackedLinear(mlp.fc1.weight, mlp.fc1.bias, gelu=kind)
        self.fc2 = PackedLinear(mlp.fc2.weight, mlp.fc2.bias)

    def pool(self, x: Tensor, layernorm: nn.Module) -> Tensor:
        """Pool normalised tokens ``x`` ``[B, n, D]`` into ``[B, D]``."""
        b, _, d = x.shape
        p = torch.softmax(torch.matmul(x, self.u), dim=1)  # [B, n, H]
        mixed = torch.matmul(p.transpose(1, 2), x)  # [B, H, D]
        # W_v on every head's mix in one product; head h keeps its own block of outputs.
        values = self.value(mixed).view(b, self.heads, self.heads, -1)
        out = self.out(values.diagonal(dim1=1, dim2=2).transpose(1, 2).reshape(b, d))
        hidden = self.fc1(layernorm(out))
        return out + self.fc2(hidden if self.act is None else self.act(hidden))


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
        self.cpu_kernels = True
        self._kernels: CpuKernels | None = None
        self._failed_key: tuple | None = None

    def _weights(self) -> list[Tensor]:
        linears = [self.q_proj, self.k_proj, self.v_proj, self.out_proj]
        linears += [getattr(self.mlp, n) for n in ("fc1", "fc2") if hasattr(self.mlp, n)]
        return [t for m in linears for t in (m.weight, m.bias) if t is not None]

    def kernels(self, x: Tensor) -> CpuKernels | None:
        """The packed CPU kernels for input ``x``, or None where the plain path applies."""
        if not self.cpu_kernels or not fast_path_ok(x, self.q_proj.weight):
            return None
        key = weights_key(self._weights())
        if key is None:
            return None
        if self._kernels is not None and self._kernels.key == key:
            return self._kernels
        if key == self._failed_key:
            return None
        try:
            self._kernels = CpuKernels(self, key)
        except RuntimeError:  # a build without the packed-linear kernels for this dtype
            self._kernels, self._failed_key = None, key
        return self._kernels

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
        h = self.ln1(x)
        fast = self.kernels(h)
        if fast is not None:
            qkv = fast.qkv(h).view(*h.shape[:-1], 3, self.num_heads, self.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        else:
            shape = (*h.shape[:-1], self.num_heads, self.head_dim)
            q = self.q_proj(h).view(shape).transpose(1, 2)
            k = self.k_proj(h).view(shape).transpose(1, 2)
            v = self.v_proj(h).view(shape).transpose(1, 2)
        out = segment_attention(q, k, v, packing, self.scale).transpose(1, 2).reshape(x.shape)
        return fast.out(out) if fast is not None else self.out_proj(out)

    def mlp_delta(self, x: Tensor) -> Tensor:
        """The MLP branch ``mlp(ln2(x))`` (without the residual); token-wise."""
        h = self.ln2(x)
        fast = self.kernels(h)
        if fast is not None and fast.fc1 is not None:
            return fast.mlp(h)
        return self.mlp(h)

    def forward(self, x: Tensor, packing: Packing | None = None) -> Tensor:
        """Full block on every token of ``x``."""
        x = x + self.attention_delta(x, packing)
        return x + self.mlp_delta(x)
