"""oneDNN packed-weight CPU kernels for the encoder blocks and SigLIP's MAP head.

Without autograd, on CPU, a block's linear layers can run through oneDNN with their weights
packed once into its blocked layout (Q, K and V as one matrix; the MLP's GELU fused into its
first layer). Packed weights keep a matrix product fast however few tokens a frame keeps,
which is what sparse frames need (MKL's plain GEMM loses about a fifth of its speed below
~64 rows). Results equal the plain path up to float rounding.

Everything here hangs off two hooks, :func:`for_block` and :func:`for_map_head`, which return
the packed kernels for an input or None where the plain modules must run: with autograd on,
off CPU, for another dtype, when ``block.cpu_kernels`` is False, or when this torch build lacks
the oneDNN ops. The packed copies (about the size of the linear weights) are keyed by the
identity and version of the weights they came from and rebuilt whenever one changes; nothing
is cached from weights made under ``torch.inference_mode()`` (they keep no version counter).
oneDNN tensors have no storage to copy or pickle, so the caches drop out of ``deepcopy`` and
pickling and are rebuilt on first use.

The private ops are looked up with :func:`torch_op` when kernels are built, never at import,
so builds without them import fine and take the plain path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroflow.models.map_head import Linear, probe_keys
from neuroflow.models.row_chunks import LayerShape, plan_rows

if TYPE_CHECKING:
    from neuroflow.models.blocks import Block
    from neuroflow.models.tower import VisionTower

PACK_ROWS = 64  # row-count hint for oneDNN's weight layout; any row count works with it
_FAST_DTYPES = (torch.float32, torch.bfloat16)
_PACK_OP, _LINEAR_OP = "_reorder_linear_weight", "_linear_pointwise"


class KernelsUnavailable(RuntimeError):
    """The packed kernels cannot be built here (missing op, unsupported module)."""


def torch_op(namespace: str, name: str) -> Any | None:
    """``torch.ops.<namespace>.<name>``, or None when this torch build lacks it."""
    try:
        return getattr(getattr(torch.ops, namespace), name)
    except (AttributeError, RuntimeError):  # torch reports a missing op as either
        return None


def onednn_available() -> bool:
    """True when this torch build can pack linear weights for oneDNN."""
    if not torch.backends.mkldnn.is_available():
        return False
    return torch_op("mkldnn", _PACK_OP) is not None and torch_op("mkldnn", _LINEAR_OP) is not None


def fast_path_ok(x: Tensor, weight: Tensor) -> bool:
    """True when ``x`` may take the packed oneDNN path: CPU, no autograd, dtype of ``weight``."""
    if x.device.type != "cpu" or torch.is_grad_enabled() or x.dtype not in _FAST_DTYPES:
        return False
    return x.dtype == weight.dtype and onednn_available()


def weights_key(tensors: Sequence[Tensor]) -> tuple | None:
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


class Cached:
    """Base of what an owner caches: ``key`` of its weights; copies and pickles as None.

    Dropping is what lets a module holding oneDNN tensors (which have no storage) be copied
    or saved; the owner rebuilds the cache on first use.
    """

    key: tuple

    def __deepcopy__(self, memo: dict) -> None:
        return None

    def __reduce__(self) -> tuple:
        return (_dropped, ())


class _Unavailable(Cached):
    """Remembers that these weights could not be packed, so the build is not retried."""

    def __init__(self, key: tuple) -> None:
        self.key = key


def _cached(
    owner: Any, slot: str, weights: Sequence[Tensor], build: Callable[[tuple], Cached]
) -> Any:
    """The cache in ``owner.<slot>`` if it matches ``weights``, else a fresh one (or None)."""
    key = weights_key(weights)
    if key is None:
        return None
    cache = getattr(owner, slot, None)
    if cache is None or cache.key != key:
        try:
            cache = build(key)
        except RuntimeError:  # KernelsUnavailable, or e.g. a build with no kernel for this dtype
            cache = _Unavailable(key)
        setattr(owner, slot, cache)
    return None if isinstance(cache, _Unavailable) else cache


class PackedLinear:
    """A linear layer (``x W^T + b``) on oneDNN with the weight pre-packed; optional GELU.

    Args:
        weight: ``[out, in]`` weight.
        bias: ``[out]`` bias or None.
        gelu: Fuse a GELU of this kind (``"tanh"`` or ``"none"``) after the product.

    Raises:
        KernelsUnavailable: This torch build lacks the oneDNN ops.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, gelu: str | None = None) -> None:
        pack, linear = torch_op("mkldnn", _PACK_OP), torch_op("mkldnn", _LINEAR_OP)
        if pack is None or linear is None:
            raise KernelsUnavailable("this torch build has no oneDNN packed-linear ops")
        self._linear = linear
        self.out_features = weight.shape[0]
        self.shape = LayerShape(weight.shape[1], weight.shape[0], weight.dtype, gelu)
        self.weight = pack(weight.detach(), PACK_ROWS)
        self.bias = None if bias is None else bias.detach()
        self.attr, self.algorithm = ("gelu", gelu) if gelu else ("none", "")

    def __call__(self, x: Tensor) -> Tensor:
        """``x [..., in] -> [..., out]``, its rows chunked when row chunking is on.

        Chunk sizes come from :func:`~neuroflow.models.row_chunks.plan_rows` (off by
        default: one call). The op has no ``out=`` form, so chunk outputs are concatenated.
        """
        flat = x.reshape(-1, x.shape[-1])
        sizes = plan_rows(self.shape, flat.shape[0])
        if sizes is None:
            out = self.product(flat)
        else:
            out = torch.cat([self.product(part) for part in flat.split(sizes)])
        return out.view(*x.shape[:-1], self.out_features)

    def product(self, flat: Tensor) -> Tensor:
        """One oneDNN call on a ``[rows, in]`` matrix, never chunked."""
        return self._linear(flat, self.weight, self.bias, self.attr, [], self.algorithm)


class PackedMlp:
    """An HF ``fc1 -> activation -> fc2`` MLP on packed weights (GELU fused into ``fc1``).

    Args:
        mlp: Module with ``fc1``, ``activation_fn`` and ``fc2``.
    """

    def __init__(self, mlp: nn.Module) -> None:
        kind = gelu_kind(mlp.activation_fn)
        self.act = None if kind else mlp.activation_fn  # an activation oneDNN cannot fuse
        self.fc1 = PackedLinear(mlp.fc1.weight, mlp.fc1.bias, gelu=kind)
        self.fc2 = PackedLinear(mlp.fc2.weight, mlp.fc2.bias)

    @staticmethod
    def supports(mlp: nn.Module) -> bool:
        """True when ``mlp`` has the ``fc1``/``activation_fn``/``fc2`` shape packed here."""
        linears = all(isinstance(getattr(mlp, n, None), nn.Linear) for n in ("fc1", "fc2"))
        return linears and hasattr(mlp, "activation_fn")

    def __call__(self, h: Tensor) -> Tensor:
        hidden = self.fc1(h)
        return self.fc2(hidden if self.act is None else self.act(hidden))


class BlockKernels(Cached):
    """The packed linear layers of one block, and the key of the weights they came from.

    Attributes:
        mlp: The packed MLP, or None when the block's MLP has another shape (it runs plain).
    """

    def __init__(self, block: Block, key: tuple) -> None:
        self.key = key
        q, k, v = block.q_proj, block.k_proj, block.v_proj
        bias = None if q.bias is None else torch.cat([q.bias, k.bias, v.bias])
        self._qkv = PackedLinear(torch.cat([q.weight, k.weight, v.weight]), bias)
        self.out = PackedLinear(block.out_proj.weight, block.out_proj.bias)
        self.mlp = PackedMlp(block.mlp) if PackedMlp.supports(block.mlp) else None

    def qkv(self, h: Tensor, heads: int) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values ``[B, heads, n, d]`` of ``h`` ``[B, n, D]``, one product."""
        qkv = self._qkv(h).view(*h.shape[:-1], 3, heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v


class MapHeadKernels(Cached):
    """SigLIP's MAP head on packed weights, for :func:`~neuroflow.models.map_head.folded_pool`.

    Supplies the operations of :class:`~neuroflow.models.map_head.FoldedOps`: ``u``
    (``W_k^T q`` per head, a function of the weights only, so computed once here), and
    packed linears for the value projection, the output projection and the head's MLP.

    Args:
        head: The MAP head (``probe``, ``attention``, ``layernorm``, ``mlp``).
        key: :func:`weights_key` of the weights it was built from.
    """

    def __init__(self, head: nn.Module, key: tuple) -> None:
        if not PackedMlp.supports(head.mlp):
            raise KernelsUnavailable("the MAP head's MLP is not fc1 -> activation -> fc2")
        attn = head.attention
        _, _, w_v = attn.in_proj_weight.detach().chunk(3)
        _, _, b_v = attn.in_proj_bias.detach().chunk(3)
        self.key, self.heads = key, attn.num_heads
        self.u = probe_keys(head).detach().contiguous()
        self.value = PackedLinear(w_v, b_v)
        self.out: Linear = PackedLinear(attn.out_proj.weight, attn.out_proj.bias)
        self.mlp: Linear = PackedMlp(head.mlp)

    def values(self, mixed: Tensor) -> Tensor:
        """``[B, H, D] -> [B, H, D / H]``: head ``h``'s value projection of its own mix."""
        b, heads = mixed.shape[0], self.heads
        # All of W_v on every head's mix in one packed product (one GEMM beats H small ones);
        # head h keeps its own block of outputs, the diagonal.
        values = self.value(mixed).view(b, heads, heads, -1)
        return values.diagonal(dim1=1, dim2=2).transpose(1, 2)


def block_weights(block: Block) -> list[Tensor]:
    """The tensors a block's packed kernels are built from."""
    linears = [block.q_proj, block.k_proj, block.v_proj, block.out_proj]
    linears += [getattr(block.mlp, n) for n in ("fc1", "fc2") if hasattr(block.mlp, n)]
    return [t for m in linears for t in (m.weight, m.bias) if t is not None]


def for_block(block: Block, x: Tensor) -> BlockKernels | None:
    """The packed kernels of ``block`` for input ``x``, or None where the plain path applies.

    Cached in ``block._kernels`` and rebuilt when the weights change (module doc).
    """
    if not block.cpu_kernels or not fast_path_ok(x, block.q_proj.weight):
        return None
    return _cached(block, "_kernels", block_weights(block), lambda key: BlockKernels(block, key))


def for_map_head(tower: VisionTower, head: nn.Module, x: Tensor) -> MapHeadKernels | None:
    """Packed kernels of ``tower``'s foldable MAP ``head`` for ``x``, or None (plain path).

    Follows the switch of the tower's blocks (``tower.blocks[0].cpu_kernels``); cached in
    ``tower._head_kernels``.
    """
    if not tower.blocks[0].cpu_kernels or not fast_path_ok(x, head.attention.in_proj_weight):
        return None
    weights = list(head.parameters())
    return _cached(tower, "_head_kernels", weights, lambda key: MapHeadKernels(head, key))
