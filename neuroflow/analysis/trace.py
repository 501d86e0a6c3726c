"""One pass over clips that records what the representation probes compare, frame by frame.

Every clip is its own stream. Each frame of a batch of clips goes through

* the dense tower, block by block, keeping every layer's hidden states;
* Arch C (sparse encoder plus cortical cache, pooled over all N cached tokens);
* Arch B, "sparse, no cache": the same sparse encoder, pooled over the kept tokens only.

B and C are built from one gate configuration and see the same frames, so their gates
decide alike; :func:`trace_clips` checks that on every frame, so the sparse conditions a
probe compares are matched token for token. A probe is anything with ``update(trace)``
(:class:`Probe`); :mod:`neuroflow.analysis.probes` holds the paper's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
import torch
from torch import Tensor

from neuroflow.archs import make_arch
from neuroflow.core.checks import check_count
from neuroflow.core.gate import GateConfig
from neuroflow.models.tower import VisionTower

CONDITIONS = ("dense", "sparse_no_cache", "arch_c")


@dataclass(frozen=True)
class TraceSettings:
    """Gate settings shared by the traced sparse architectures, and the clip batch.

    Attributes:
        threshold: Surprise threshold of the retinal gate, in [0, 2].
        ema_decay: EMA decay of the gate, in (0, 1].
        floor_tokens: Patches kept per frame at least (>= 1: Arch B pools the kept tokens
            and SigLIP has no class token to fall back on). ``floor_tokens = N`` keeps
            every patch.
        batch: Clips streamed side by side.
    """

    threshold: float = 0.20
    ema_decay: float = 0.01
    floor_tokens: int = 4
    batch: int = 32

    def __post_init__(self) -> None:
        self.gate_config()  # raises ValueError naming a bad gate setting
        check_count(self.batch, "batch", 1)

    def gate_config(self) -> GateConfig:
        """The retinal gate's configuration (threshold mode, dense first frame)."""
        return GateConfig(
            threshold=self.threshold, ema_decay=self.ema_decay, floor_tokens=self.floor_tokens
        )


@dataclass
class FrameTrace:
    """One frame of a batch of clips, seen densely and through Arch B and C.

    Token axes hold ``P`` class tokens first, then ``N`` patches (SigLIP: ``P = 0``).

    Attributes:
        t: Frame index within the clips.
        clips: ``[B]`` indices of this batch's clips in the traced pixel tensor.
        dense_layers: ``L + 1`` dense hidden states ``[B, P + N, D]``: index 0 is the
            encoder input (patch embedding plus position), index ``L`` the final block's
            output (before the post-LayerNorm).
        keep: ``[B, N]`` bool, patches the gate kept (identical for B and C).
        surprise: ``[B, N]`` gate surprise (zeros on the dense first frame, ``t = 0``).
        cache: ``[B, P + N, D]`` Arch C's cortical cache after this frame (a copy).
        sparse_mask: ``[B, P + N]`` bool, tokens the sparse encoder ran on (class tokens
            and kept patches).
        sparse_final: ``[B, P + N, D]`` final-layer outputs the sparse encoder produced
            for those tokens, zeros elsewhere (B and C compute the same ones; with the
            hard cache they are C's fresh cache slots).
        pooled: Pooled embeddings ``[B, D]`` (what ``arch(...).embedding`` gives) under
            ``"dense"``, ``"sparse_no_cache"`` and ``"arch_c"``.
    """

    t: int
    clips: Tensor
    dense_layers: list[Tensor]
    keep: Tensor
    surprise: Tensor
    cache: Tensor
    sparse_mask: Tensor
    sparse_final: Tensor
    pooled: dict[str, Tensor]

    @property
    def dense_final(self) -> Tensor:
        """``[B, P + N, D]`` the dense final-layer output."""
        return self.dense_layers[-1]

    @property
    def num_prefix(self) -> int:
        """``P``, class tokens before the patches."""
        return self.cache.shape[1] - self.keep.shape[1]


class Probe:
    """Base of the probes: fed every :class:`FrameTrace` of one pass, then asked for a table.

    Args:
        tower: The traced tower (probes of the pooling head read its weights).

    Attributes:
        name: The table's name.
        columns: The table's leading columns, in order.
        consecutive: The probe compares a frame with earlier ones (needs ``T >= 2``).
    """

    name: ClassVar[str] = "probe"
    columns: ClassVar[tuple[str, ...]] = ()
    consecutive: ClassVar[bool] = True

    def __init__(self, tower: VisionTower) -> None:
        self.tower = tower

    @classmethod
    def unavailable(cls, tower: VisionTower, **context: Any) -> str | None:
        """Why the probe cannot run on ``tower`` with ``context`` (None when it can)."""
        return None

    @classmethod
    def from_context(cls, tower: VisionTower, **context: Any) -> Probe:
        """Build the probe from what :func:`~neuroflow.analysis.probes.run_probes` was given
        (``project``, ``classifier``, ``labels``); the default needs only the tower.

        Raises:
            ValueError: The probe cannot run (:meth:`unavailable` says why).
        """
        reason = cls.unavailable(tower, **context)
        if reason is not None:
            raise ValueError(reason)
        return cls(tower)

    def update(self, trace: FrameTrace) -> None:
        """Fold one frame into the running statistics."""
        raise NotImplementedError

    def table(self) -> pd.DataFrame:
        """The probe's table (``columns`` first)."""
        raise NotImplementedError


def check_clips(pixels: Tensor) -> None:
    """Raise ``ValueError`` unless ``pixels`` is a floating ``[n, T, C, H, W]`` tensor."""
    if not isinstance(pixels, Tensor) or pixels.dim() != 5:
        shape = tuple(pixels.shape) if isinstance(pixels, Tensor) else type(pixels).__name__
        raise ValueError(f"clips must be a [n, T, C, H, W] tensor of frames, got {shape}")
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"clips need at least one clip and one frame, got {tuple(pixels.shape)}")
    if not pixels.is_floating_point():
        raise ValueError(
            f"clips must be normalised floating-point frames, got dtype {pixels.dtype} "
            "(convert uint8 frames with neuroflow.glyphs.dataset.to_pixels or the processor)"
        )


def dense_layers(tower: VisionTower, tokens: Tensor) -> list[Tensor]:
    """Hidden states after every block: ``[tokens, block 1 output, ..., block L output]``."""
    layers = [tokens]
    for k in range(len(tower.blocks)):
        layers.append(tower.encode(layers[-1], start=k, stop=k + 1))
    return layers


@torch.inference_mode()
def trace_clips(
    tower: VisionTower, pixels: Tensor, settings: TraceSettings | None = None
) -> Iterator[FrameTrace]:
    """Stream ``pixels`` through the dense tower, Arch B and Arch C; yield every frame.

    Clips are taken ``settings.batch`` at a time, each clip its own stream from a fresh
    state; frames of a batch come in order ``t = 0 .. T - 1`` before the next batch.

    Args:
        tower: The vision tower.
        pixels: ``[n, T, C, H, W]`` normalised frames (moved to the tower's device per batch).
        settings: Gate settings and clip batch; defaults when None.

    Yields:
        One :class:`FrameTrace` per batch and frame. Its tensors are inference tensors:
        combine them with the model's weights under ``torch.inference_mode()`` too (or
        ``.clone()`` them first), as :func:`~neuroflow.analysis.probes.run_probes` does.

    Raises:
        ValueError: Malformed clips or settings the gate or architectures reject.
        RuntimeError: Arch B's and Arch C's gates disagreed on a frame.
    """
    settings = settings if settings is not None else TraceSettings()
    check_clips(pixels)
    gate = settings.gate_config()
    arch_c = make_arch("C", tower, gate=gate)
    arch_b = make_arch("B", tower, gate=gate)
    device = next(tower.parameters()).device
    for start in range(0, pixels.shape[0], settings.batch):
        stop = min(pixels.shape[0], start + settings.batch)
        clips = torch.arange(start, stop)
        frames = pixels[start:stop].to(device)
        state_c, state_b = arch_c.new_state(stop - start), arch_b.new_state(stop - start)
        for t in range(frames.shape[1]):
            x = frames[:, t]
            out_c, out_b = arch_c(x, state_c), arch_b(x, state_b)
            if not torch.equal(out_c.keep_mask, out_b.keep_mask):
                raise RuntimeError(
                    f"Arch B and Arch C kept different patches at frame {t} of clips "
                    f"{start}..{stop - 1}; their gates must decide alike for matched conditions"
                )
            layers = dense_layers(tower, tower.embed(x).tokens)
            cache = state_c.cache.clone()
            mask = arch_c.full_keep(out_c.keep_mask)
            yield FrameTrace(
                t=t,
                clips=clips,
                dense_layers=layers,
                keep=out_c.keep_mask,
                surprise=out_c.surprise,
                cache=cache,
                sparse_mask=mask,
                sparse_final=torch.where(mask[..., None], cache, torch.zeros_like(cache)),
                pooled={
                    "dense": tower.fast_pool(layers[-1]),
                    "sparse_no_cache": out_b.embedding,
                    "arch_c": out_c.embedding,
                },
            )
