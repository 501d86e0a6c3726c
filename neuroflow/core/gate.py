"""The retinal gate: per-patch EMA of layer-0 features and cosine surprise.

For every stream ``b`` and patch ``i`` the gate keeps an exponential moving average
``E[b, i]`` of the patch's layer-0 feature ``h[b, i]`` and scores each new frame by its
cosine *surprise* ``s = 1 - cos(h, E)``. A patch is active when ``s > threshold`` (paper
mode) or when it is among the most surprising ``keep_fraction * N`` patches (budget mode).
The EMA is then updated for every patch with ``E <- (1 - alpha) E + alpha h``.

Staleness options (all off by default) are described in :mod:`neuroflow.core.gate_options`.

State lives in :class:`GateState`, one per batch of independent streams; the gate itself
holds only configuration, so one gate serves any number of stream batches.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroflow.core import gate_options
from neuroflow.core.checks import (
    check_count,
    check_ema_decay,
    check_floor,
    check_threshold,
    stream_indices,
)

GateMode = Literal["threshold", "budget"]
GateSignal = Literal["embedding", "patch", "pixels"]


@dataclass(frozen=True)
class GateConfig:
    """Settings of a :class:`RetinalGate`.

    Attributes:
        threshold: Surprise threshold; a patch is active when its surprise is strictly above
            it (``threshold`` mode). Cosine surprise lies in [0, 2].
        ema_decay: Weight of the new frame in the EMA update (the paper's "EMA decay" alpha);
            small values give a slow background model. In (0, 1].
        mode: ``"threshold"`` (paper) or ``"budget"`` (fixed keep fraction per frame, equal
            token counts across streams: static shapes, batch friendly).
        keep_fraction: Fraction of patches kept per frame in ``budget`` mode, in (0, 1].
        floor_tokens: Minimum number of active patches per frame; the most surprising ones
            fill up the floor. At most the frame's patch count ``N`` (checked per frame).
        signal: Feature the gate compares: ``"embedding"`` (patch projection plus position
            embedding, the paper's layer 0) or ``"patch"`` (raw patch projection, free of the
            static position signal) or ``"pixels"`` (each patch's raw pixels: the input of
            the pixel-difference gate).
        global_motion_norm: Subtract each frame's mean surprise before thresholding, so a
            global change (camera pan, lighting) does not activate every patch.
        max_cache_age: Force a patch to be recomputed when it has not been for this many
            frames (periodic refresh); ``None`` disables the refresh.
        dense_first_frame: Keep every patch on the first frame after a reset (it fills the
            cache). Without it the first frame keeps only the floor.
        stagger: Spread the ``max_cache_age = m`` refresh round-robin: patch ``i`` on the
            frames ``t`` (since the reset) with ``(t + i) % m == 0``, about ``N / m`` a frame,
            instead of all patches that reach age ``m`` together. Needs ``max_cache_age``.
        slow_ema_decay: Decay of a second, slow EMA (below ``ema_decay``); the surprise is
            the larger of the two, so a patch that stops changing stays surprising longer.
        dilation: Chebyshev radius (patches) over which the surprise map is max-pooled on the
            grid before the selection (threshold, budget, floor): neighbours are kept too.
    """

    threshold: float = 0.35
    ema_decay: float = 0.01
    mode: GateMode = "threshold"
    keep_fraction: float = 0.2
    floor_tokens: int = 4
    signal: GateSignal = "embedding"
    global_motion_norm: bool = False
    max_cache_age: int | None = None
    dense_first_frame: bool = True
    stagger: bool = False
    slow_ema_decay: float | None = None
    dilation: int = 0

    def __post_init__(self) -> None:
        check_threshold(self.threshold)
        check_ema_decay(self.ema_decay)
        if self.mode not in ("threshold", "budget"):
            raise ValueError(f"gate mode must be 'threshold' or 'budget', got {self.mode!r}")
        if not 0.0 < float(self.keep_fraction) <= 1.0:
            raise ValueError(f"keep_fraction must lie in (0, 1], got {self.keep_fraction}")
        check_count(self.floor_tokens, "floor_tokens", 0)
        if self.signal not in ("embedding", "patch", "pixels"):
            raise ValueError(
                f"gate signal must be 'embedding', 'patch' or 'pixels', got {self.signal!r}"
            )
        check_count(self.max_cache_age, "max_cache_age", 1, optional=True)
        gate_options.check_options(self)


@dataclass
class GateOutput:
    """What the gate decided for one frame of every stream.

    Attributes:
        keep_mask: ``[B, N]`` bool, True for active patches.
        surprise: ``[B, N]`` float32 surprise used for the decision (after global-motion
            normalisation when enabled, before ``dilation``); zeros on a stream's dense first
            frame.
        keep_fraction: ``[B]`` float32 share of active patches per stream.
        first_frame: ``[B]`` bool, True where the frame was the first after a reset.
    """

    keep_mask: Tensor
    surprise: Tensor
    keep_fraction: Tensor
    first_frame: Tensor


class GateState:
    """Per-stream gate state for a batch of ``batch`` independent streams.

    Holds the EMA ``[B, N, D]`` (and ``slow_ema`` of a dual-rate gate), the age of every
    patch (frames since it was last recomputed), which streams start fresh, the patches
    requested for the next frame (``pending``), and the per-stream threshold and EMA decay
    (schedules and controllers change these). ``grid``: the ``(rows, cols)`` patch grid,
    set by the architectures (None: square).

    Args:
        batch: Number of streams.
        threshold: Initial threshold of every stream.
        ema_decay: Initial EMA decay of every stream.
    """

    # Per-stream rows (attribute -> batch axis), for stacking streams (neuroflow.core.rows).
    ROWS: ClassVar[dict[str, int]] = dict.fromkeys(
        ("threshold", "ema_decay", "fresh", "force", "frames", "ema", "age", "slow_ema", "pending"),
        0,
    )
    LAZY_ROWS: ClassVar[tuple[str, ...]] = ("ema", "age", "slow_ema", "pending")

    def __init__(self, batch: int, threshold: float, ema_decay: float) -> None:
        if int(batch) != batch or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch}")
        self.batch = int(batch)
        self.threshold = torch.full((self.batch,), float(threshold))
        self.ema_decay = torch.full((self.batch,), float(ema_decay))
        self.fresh = torch.ones(self.batch, dtype=torch.bool)
        self.force = torch.zeros(self.batch, dtype=torch.bool)
        self.ema: Tensor | None = None
        self.age: Tensor | None = None
        self.frames = torch.zeros(self.batch, dtype=torch.long)
        self.slow_ema: Tensor | None = None
        self.pending: Tensor | None = None
        self.grid: tuple[int, int] | None = None

    @property
    def num_tokens(self) -> int | None:
        """Number of patches the state was built for, or None before the first frame."""
        return None if self.ema is None else self.ema.shape[1]

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Start the given streams (all when None) afresh: next frame is a first frame."""
        idx = self._indices(streams)
        self._make_writable()
        self.fresh[idx] = True
        self.frames[idx] = 0
        if self.age is not None:  # a fresh stream has recomputed nothing yet: no stale ages
            self.age[idx.to(self.age.device)] = 0
        if self.pending is not None:
            self.pending[idx.to(self.pending.device)] = False

    def force_keyframe(self, streams: Sequence[int] | None = None) -> None:
        """Recompute every patch of the given streams (all when None) on their next frame.

        Unlike :meth:`reset` the EMA carries on; only the next frame runs dense.
        """
        self._make_writable()
        self.force[self._indices(streams)] = True

    def request_refresh(self, mask: Tensor) -> None:
        """Recompute the patches of ``mask`` (``[B, N]`` bool) on the next frame, on top of
        the gate's choice and counted in its keep fraction. Requests accumulate until then;
        :meth:`reset` drops those of the streams it resets.

        Raises:
            ValueError: ``mask`` is not a ``[batch, N]`` bool tensor.
        """
        known = self.num_tokens or (None if self.pending is None else self.pending.shape[1])
        gate_options.check_refresh_mask(mask, self.batch, known)
        self._make_writable()
        if self.pending is None:
            device = mask.device if self.ema is None else self.ema.device
            self.pending = torch.zeros(mask.shape, dtype=torch.bool, device=device)
        self.pending |= mask.to(self.pending.device)

    def pending_count(self) -> Tensor:
        """``[B]`` long: patches requested for the next frame per stream."""
        if self.pending is None:
            return torch.zeros(self.batch, dtype=torch.long, device=self.fresh.device)
        return self.pending.sum(dim=1)

    def set_threshold(self, value: float | Tensor, streams: Sequence[int] | None = None) -> None:
        """Set the threshold of the given streams (all when None)."""
        check_threshold(value)
        self._make_writable()
        value = torch.as_tensor(value, dtype=torch.float32, device=self.threshold.device)
        self.threshold[self._indices(streams)] = value

    def set_ema_decay(self, value: float | Tensor, streams: Sequence[int] | None = None) -> None:
        """Set the EMA decay of the given streams (all when None)."""
        check_ema_decay(value)
        self._make_writable()
        value = torch.as_tensor(value, dtype=torch.float32, device=self.ema_decay.device)
        self.ema_decay[self._indices(streams)] = value

    def _make_writable(self) -> None:
        """Let state made under ``torch.inference_mode`` be updated outside it (and back)."""
        if torch.is_inference_mode_enabled():
            return
        for name in self.ROWS:
            value = getattr(self, name)
            if value is not None and value.is_inference():
                setattr(self, name, value.clone())

    def nbytes(self) -> int:
        """Bytes held by the tensors of this state."""
        tensors = [getattr(self, name) for name in self.ROWS]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    def _indices(self, streams: Sequence[int] | None) -> Tensor:
        return stream_indices(self.batch, streams)

    def _prepare(self, features: Tensor, slow: bool = False) -> None:
        """Allocate on first use (the slow EMA too when ``slow``); reset every stream when the
        token count changes.

        The warning is skipped when every stream is already fresh (e.g. the architecture
        reset them on a change of frame grid and warned): nothing is lost then.
        """
        b, n, d = features.shape
        self._make_writable()
        if b != self.batch:
            raise ValueError(
                f"frame batch has {b} streams but the state was created for {self.batch}; "
                "create the state with new_state(batch=...) matching the batch"
            )
        if self.ema is not None and self.ema.shape[1:] != (n, d):
            if not self.fresh.all():
                warnings.warn(
                    f"token count changed from {self.ema.shape[1]} to {n} (resolution "
                    "change); resetting every stream of this state",
                    RuntimeWarning,
                    stacklevel=3,
                )
            self.ema = None
            self.pending = None  # the requests name patches of the old grid
        if self.ema is None or self.ema.device != features.device:
            self.ema = torch.zeros(b, n, d, dtype=torch.float32, device=features.device)
            self.age = torch.zeros(b, n, dtype=torch.long, device=features.device)
            self.slow_ema = None
            self.fresh = torch.ones(b, dtype=torch.bool)
            for name in ("threshold", "ema_decay", "frames", "fresh", "force"):
                setattr(self, name, getattr(self, name).to(features.device))
        if slow and self.slow_ema is None:
            # Like the EMA; a stream already running starts it at its current background.
            self.slow_ema = self.ema.clone()
        if self.pending is not None:
            if self.pending.shape != (b, n):
                raise ValueError(f"refresh requests name {self.pending.shape[1]} patches, not {n}")
            self.pending = self.pending.to(features.device)


class RetinalGate:
    """Decides, per stream and frame, which patches are recomputed.

    Args:
        config: Gate settings; keyword arguments build one when omitted.
        **kwargs: Fields of :class:`GateConfig` (used only when ``config`` is None).
    """

    def __init__(self, config: GateConfig | None = None, **kwargs: object) -> None:
        self.config = config if config is not None else GateConfig(**kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: GateConfig, seed: int = 0) -> RetinalGate:
        """The gate of ``config`` (``seed`` is unused: the retinal gate is deterministic)."""
        return cls(config)

    def new_state(self, batch: int) -> GateState:
        """A fresh state for ``batch`` independent streams."""
        return GateState(batch, self.config.threshold, self.config.ema_decay)

    @torch.no_grad()
    def step(self, features: Tensor, state: GateState) -> GateOutput:
        """Score one frame of every stream, choose the active patches, update the EMA.

        Args:
            features: ``[B, N, D]`` layer-0 features of the patches (no class tokens).
            state: The streams' state; updated in place.

        Returns:
            The keep mask, surprise and keep fraction of every stream.
        """
        if features.dim() != 3:
            raise ValueError(f"gate features must be [B, N, D], got shape {tuple(features.shape)}")
        check_floor(self.config.floor_tokens, features.shape[1])
        state._prepare(features, slow=self.config.slow_ema_decay is not None)
        assert state.ema is not None and state.age is not None
        h = features.float().contiguous()  # one memory layout: identical patches give exactly 0
        fresh = state.fresh.clone()
        surprise = self.score(h, state.ema, fresh)
        if self.config.slow_ema_decay is not None:
            assert state.slow_ema is not None
            surprise = torch.maximum(surprise, self.score(h, state.slow_ema, fresh))
        if self.config.global_motion_norm:
            surprise = surprise - surprise.mean(dim=1, keepdim=True)
        keep = self._select(self._dilated(surprise, state), state)
        forced = state.force | (fresh if self.config.dense_first_frame else torch.zeros_like(fresh))
        keep = keep | forced[:, None]
        self._update(h, keep, fresh, state)
        return GateOutput(keep, surprise, keep.float().mean(dim=1), fresh)

    def score(self, h: Tensor, reference: Tensor, fresh: Tensor) -> Tensor:
        """``[B, N]`` surprise of every patch against its reference (the EMA); 0 on fresh
        streams. Gates that score change another way (pixel differences) override it."""
        surprise = cosine_surprise(h, reference)
        return torch.where(fresh[:, None], torch.zeros_like(surprise), surprise)

    def move_reference(self, h: Tensor, fresh: Tensor, state: GateState) -> None:
        """The EMA step (the frame itself on a fresh stream); gates with another reference
        (the previous frame) override it."""
        assert state.ema is not None
        weight = torch.where(fresh, torch.ones_like(state.ema_decay), state.ema_decay)
        state.ema.lerp_(h, weight[:, None, None].to(h.dtype))

    def _dilated(self, surprise: Tensor, state: GateState) -> Tensor:
        """The surprise map the selection reads: max-pooled over the grid by ``dilation``."""
        if self.config.dilation == 0:
            return surprise
        return gate_options.dilate(
            surprise, gate_options.patch_grid(surprise.shape[1], state.grid), self.config.dilation
        )

    def _select(self, surprise: Tensor, state: GateState) -> Tensor:
        n = surprise.shape[1]
        if self.config.mode == "budget":
            count = max(1, math.ceil(self.config.keep_fraction * n - 1e-9))
            keep = _top_k_mask(surprise, min(n, max(count, int(self.config.floor_tokens))))
        else:
            keep = surprise > state.threshold[:, None]
            floor = int(self.config.floor_tokens)  # <= n, checked in step
            if floor > 0:
                keep = keep | _top_k_mask(surprise, floor)
        due = self._refresh_due(state)
        return keep if due is None else keep | due

    def _refresh_due(self, state: GateState) -> Tensor | None:
        """``[B, N]`` patches recomputed whatever their surprise: the periodic refresh
        (``max_cache_age``, ``stagger``) and the requested ones; None when there are none."""
        assert state.age is not None
        due = gate_options.refresh_due(
            state.age, state.frames, self.config.max_cache_age, self.config.stagger
        )
        if state.pending is not None:
            due = state.pending if due is None else due | state.pending
        return due

    def _update(self, h: Tensor, keep: Tensor, fresh: Tensor, state: GateState) -> None:
        """Move the reference on (:meth:`move_reference`), the ages and the frame counters."""
        assert state.ema is not None and state.age is not None
        self.move_reference(h, fresh, state)
        if self.config.slow_ema_decay is not None:
            assert state.slow_ema is not None
            weight = torch.full_like(state.ema_decay, self.config.slow_ema_decay)
            state.slow_ema.lerp_(h, weight.masked_fill(fresh, 1.0)[:, None, None])
        state.age = torch.where(keep, torch.zeros_like(state.age), state.age + 1)
        state.fresh.zero_()
        state.force.zero_()
        if state.pending is not None:
            state.pending.zero_()
        state.frames += 1


def cosine_surprise(h: Tensor, ema: Tensor) -> Tensor:
    """``1 - cos(h, ema)`` over the last dim, computed as ``|h/|h| - ema/|ema||^2 / 2``.

    The two are equal for unit vectors; this form is exactly 0 for an unchanged patch and
    keeps precision for small surprises, where ``1 - cos`` cancels catastrophically.
    """
    diff = F.normalize(h, dim=-1, eps=1e-12) - F.normalize(ema, dim=-1, eps=1e-12)
    return 0.5 * diff.square().sum(dim=-1)


def _top_k_mask(scores: Tensor, k: int) -> Tensor:
    """Bool mask of the ``k`` highest scores in each row."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if k > 0:
        mask.scatter_(1, scores.topk(k, dim=1).indices, True)
    return mask
