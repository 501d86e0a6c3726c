"""Attention within each stream's segment of a ragged pack, by one of three backends.

A ragged pack is one ``[1, H, T, d]`` sequence holding the active tokens of ``B`` streams
back to back (see :mod:`neuroflow.core.packing`); attention must not cross segments. All
backends give per-stream SDPA's result (up to float rounding):

- ``"split"``: one SDPA call per stream (``split`` + ``cat``); ``B`` small calls.
- ``"masked"``: one SDPA call over the whole pack with a block-diagonal boolean mask; one
  call, but ``T**2`` scores instead of ``sum(n**2)``. The mask is built once per packing
  and kept on it.
- ``"varlen"``: a variable-length flash kernel (``torch.nn.attention.varlen.varlen_attn``,
  else ``flash_attn.flash_attn_varlen_func``); one call, no wasted scores, CUDA and
  float16/bfloat16 only (:func:`varlen_available`).
- ``"auto"`` (the default): varlen where it can run, else masked or split by the rule of
  :func:`masked_pays`.

A plain batch (no packing, or every stream of the same length) needs no segments: every
backend runs one batched SDPA call there (on CUDA with half dtypes that call is itself a
flash kernel); a forced ``"varlen"`` still checks that it could run, so a misconfiguration
shows on the first call rather than on the first ragged frame.

Why the auto rule. Measured on the 2-core CPU of this machine, fp32, SigLIP-B heads (12 x 64),
ragged lengths around the mean, best of 9 batches and then the least of 3 runs; one torch
thread, because other jobs kept the machine's load at 4-6 and two-thread timings swung by
10-100x (their steady cells agree with the one-thread picture)::

    python experiments/bench/segment_attention.py --threads 1
    python experiments/bench/segment_attention.py --threads 1 --streams 2 4 8 16 64 --means 2 4 8 12

    masked / split time (T = total tokens of the pack)
    streams x mean 20: 2 (T 39) 1.39, 4 (64) 0.85, 8 (135) 3.65, 16 (357) 5.44
    streams x mean 34: 2 (79) 2.22, 4 (134) 2.38, 8 (272) 3.20, 16 (524) 6.63
    streams x mean 197: 2 (355) 2.48, 4 (781) 3.30, 16 (3236) 14.44   (16: 60 vs 872 ms)
    streams x mean 2: 4 (8) 0.23, 16 (33) 0.33, 64 (127) 0.99
    streams x mean 4: 4 (17) 0.77, 16 (64) 0.58, 64 (250) 2.41
    streams x mean 8: 4 (29) 0.82, 8 (69) 1.01, 16 (122) 1.21, 64 (504) 6.34

Split costs ``B`` SDPA calls of ~20-35 us overhead plus ``sum(n**2)`` work; masked one call
plus ``T**2`` work, which dominates fast: masked wins only while the pack is tiny and split
into several short segments (saving at most ~0.1-0.3 ms a call), and loses up to 14x on real
SigLIP-B packs. So on CPU masked is taken when ``T <= 64`` and segments average at most 16
tokens (the one cell this misjudges, 4 x 12, loses 0.04 ms), split otherwise. On CUDA
without varlen (fp32, or no flash kernel) calls cost more (launches) and ``T**2`` work
less, so masked is taken up to ``T <= 1024`` with at most 128 tokens a segment: an estimate
from that arithmetic, not measured (run the script with ``--device cuda --dtype fp32``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from neuroflow.core.packing import Packing

BACKENDS = ("auto", "split", "masked", "varlen")
# "auto" picks masked over split up to (total tokens, mean tokens per stream); module doc.
MASKED_LIMITS = {"cpu": (64, 16), "cuda": (1024, 128)}
_HALF = (torch.float16, torch.bfloat16)
_MAX_FLASH_HEAD_DIM = 256

_backend = "auto"


def _checked(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; valid: {', '.join(BACKENDS)}")
    return name


def set_attention_backend(name: str) -> None:
    """Choose the ragged-attention backend for the whole process.

    Args:
        name: One of ``"auto"``, ``"split"``, ``"masked"``, ``"varlen"``.

    Raises:
        ValueError: For any other name (the message lists the valid ones).
    """
    global _backend
    _backend = _checked(name)


def attention_backend() -> str:
    """The backend name set for the process (``"auto"`` unless changed)."""
    return _backend


@contextlib.contextmanager
def use_attention_backend(name: str) -> Iterator[None]:
    """Use backend ``name`` inside a ``with`` block, restoring the previous one after."""
    previous = attention_backend()
    set_attention_backend(name)
    try:
        yield
    finally:
        set_attention_backend(previous)


@functools.cache
def _torch_varlen() -> Callable | None:
    try:
        from torch.nn.attention.varlen import varlen_attn
    except Exception:  # older torch, or a build without it
        return None
    flash_built = getattr(torch.backends.cuda, "is_flash_attention_available", lambda: False)
    return varlen_attn if flash_built() else None


@functools.cache
def _flash_attn_varlen() -> Callable | None:
    try:  # the package can fail at import in many ways (ABI, CUDA version), not only absence
        return importlib.import_module("flash_attn").flash_attn_varlen_func
    except Exception:
        return None


def _varlen_kernel(q: Tensor) -> tuple[str | None, str | None]:
    """``(kernel, None)`` for the varlen kernel that can run on ``q``, else ``(None, why)``."""
    if not q.is_cuda:
        return None, f"it needs a CUDA tensor, got device {q.device.type!r}"
    if q.dtype not in _HALF:
        return None, f"it needs float16 or bfloat16, got {q.dtype}"
    if q.shape[-1] > _MAX_FLASH_HEAD_DIM or q.shape[-1] % 8:
        return None, f"it needs a head dim that is a multiple of 8 up to 256, got {q.shape[-1]}"
    # torch's own kernel first (no extra package); flash_attn covers builds without it.
    if _torch_varlen() is not None and torch.cuda.get_device_capability(q.device) >= (8, 0):
        return "torch", None
    if _flash_attn_varlen() is not None:
        return "flash_attn", None
    return None, (
        "torch.nn.attention.varlen needs a flash-attention build and an sm80+ GPU, "
        "and the flash_attn package does not import"
    )


def varlen_available(q: Tensor) -> str | None:
    """Which varlen kernel can run on tensors like ``q``; never raises.

    Returns:
        ``"torch"`` (``torch.nn.attention.varlen``, preferred), ``"flash_attn"`` (the
        package), or None (CPU, float32, no usable kernel, ...).
    """
    try:
        return _varlen_kernel(q)[0]
    except Exception:
        return None


def masked_pays(packing: Packing, device_type: str = "cpu") -> bool:
    """Whether ``"auto"`` picks masked over split on ``device_type`` (see the module doc)."""
    max_total, max_mean = MASKED_LIMITS.get(device_type, MASKED_LIMITS["cpu"])
    total = sum(packing.lengths)
    return packing.batch >= 2 and total <= max_total and total <= max_mean * packing.batch


def resolve_backend(q: Tensor, packing: Packing) -> str:
    """The concrete backend (split/masked/varlen) the current setting gives for ``q``."""
    if _backend != "auto":
        return _backend
    if varlen_available(q) is not None:
        return "varlen"
    return "masked" if masked_pays(packing, q.device.type) else "split"


def _cached(packing: Packing, key: tuple, build: Callable[[], Tensor]) -> Tensor:
    # Kept on the packing: it lives for one frame and is shared by every layer's attention.
    if packing.attention_cache is None:
        packing.attention_cache = {}
    if key not in packing.attention_cache:
        packing.attention_cache[key] = build()
    return packing.attention_cache[key]


def block_mask(packing: Packing, device: torch.device) -> Tensor:
    """``[T, T]`` bool, True where query and key are in the same stream; cached per device."""

    def build() -> Tensor:
        lengths = torch.tensor(packing.lengths, device=device)
        total = sum(packing.lengths)  # output_size spares a device sync on CUDA
        ids = torch.arange(packing.batch, device=device)
        ids = ids.repeat_interleave(lengths, output_size=total)
        return ids[:, None] == ids[None, :]

    return _cached(packing, ("mask", torch.device(device)), build)


def split_attention(q: Tensor, k: Tensor, v: Tensor, packing: Packing, scale: float) -> Tensor:
    """One SDPA call per stream segment of ``[1, H, T, d]`` tensors."""
    parts = (x.split(packing.lengths, dim=2) for x in (q, k, v))
    outs = [F.scaled_dot_product_attention(*qkv, scale=scale) for qkv in zip(*parts, strict=True)]
    return torch.cat(outs, dim=2)


def masked_attention(q: Tensor, k: Tensor, v: Tensor, packing: Packing, scale: float) -> Tensor:
    """One SDPA call over the pack with the cached block-diagonal mask."""
    mask = block_mask(packing, q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


def _require_varlen(q: Tensor) -> str:
    kernel, reason = _varlen_kernel(q)
    if kernel is None:
        raise RuntimeError(f"attention backend 'varlen' cannot run here: {reason}")
    return kernel


def varlen_attention(q: Tensor, k: Tensor, v: Tensor, packing: Packing, scale: float) -> Tensor:
    """One variable-length flash call; ``[1, H, T, d]`` in and out.

    Raises:
        RuntimeError: When no varlen kernel can run on ``q`` (device, dtype or package).
    """
    kernel = _require_varlen(q)

    def build() -> Tensor:
        cu = torch.tensor([0, *packing.lengths], dtype=torch.int32).cumsum(0, dtype=torch.int32)
        return cu.to(q.device)

    cu_seq = _cached(packing, ("cu_seq", q.device), build)
    longest = max(packing.lengths)
    # [1, H, T, d] -> [T, H, d]; a no-op copy for the blocks, whose q/k/v are [T, H, d] in memory.
    qt, kt, vt = (x[0].transpose(0, 1).contiguous() for x in (q, k, v))
    args = (qt, kt, vt, cu_seq, cu_seq, longest, longest)
    if kernel == "torch":
        out = _torch_varlen()(*args, scale=scale)
    else:
        out = _flash_attn_varlen()(*args, softmax_scale=scale)
    return out.transpose(0, 1).unsqueeze(0)


_RAGGED = {"split": split_attention, "masked": masked_attention, "varlen": varlen_attention}


def segment_attention(
    q: Tensor, k: Tensor, v: Tensor, packing: Packing | None, scale: float
) -> Tensor:
    """Attention within each stream's segment, by the process-wide backend.

    Args:
        q: Queries, ``[B, H, n, d]`` for a plain batch or ``[1, H, T, d]`` when packed.
        k: Keys, same layout as ``q``.
        v: Values, same layout as ``q``.
        packing: The packing of a ragged batch, or None for a plain batch.
        scale: Softmax scale.

    Returns:
        Attention output in the layout and dtype of ``q``.

    Raises:
        RuntimeError: When ``"varlen"`` is forced and cannot run on ``q``.
    """
    # A uniform packing arrives as a plain [B, H, n, d] batch (``to_layout``); the shape
    # check keeps a uniform pack still laid out as [1, H, T, d] from mixing its streams.
    if packing is None or (packing.uniform and q.shape[0] == packing.batch):
        if _backend == "varlen":
            _require_varlen(q)
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    return _RAGGED[resolve_backend(q, packing)](q, k, v, packing, scale)
