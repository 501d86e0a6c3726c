"""What every architecture shares: per-stream state, input checks, the gate step."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from neuroflow.archs.registry import register_method
from neuroflow.core.gate import GateOutput, RetinalGate
from neuroflow.core.protocols import Gate, GateStateLike
from neuroflow.models.tower import Embedded, VisionTower


class KeepUnreachable(ValueError):
    """A method cannot run at the keep fraction asked of it on this tower (e.g. ToMe cannot
    merge below a share set by its depth); the message names the reachable range."""


@dataclass
class ArchOutput:
    """Result of one frame for every stream.

    Attributes:
        embedding: ``[B, D]`` pooled embedding (the HF ``pooler_output`` equivalent).
        keep_mask: ``[B, N]`` bool, patches recomputed this frame (class tokens excluded).
        surprise: ``[B, N]`` gate surprise (zeros where no gate ran or on a first frame).
        keep_fraction: ``[B]`` share of patches recomputed.
        stretch: Position-embedding stretch factor of the input grid.
    """

    embedding: Tensor
    keep_mask: Tensor
    surprise: Tensor
    keep_fraction: Tensor
    stretch: float


class StreamState:
    """State of ``batch`` independent streams for one architecture.

    Args:
        batch: Number of streams.
        gate: The architecture's gate (None for dense: nothing to remember).
    """

    # Per-stream rows (attribute -> batch axis; "state": a nested state), for stacking the
    # states of separate streams into one batch (neuroflow.core.rows).
    ROWS: ClassVar[dict[str, int | str]] = {
        "gate": "state",
        "cache": 0,
        "anchors": 1,
        "previous": 0,
    }
    LAZY_ROWS: ClassVar[tuple[str, ...]] = ("cache", "anchors", "previous")

    def __init__(self, batch: int, gate: Gate | None) -> None:
        if int(batch) != batch or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch}")
        self.batch = int(batch)
        self.gate: GateStateLike | None = gate.new_state(batch) if gate is not None else None
        self.cache: Tensor | None = None
        self.anchors: Tensor | None = None
        # The last pooled embedding, for refresh signals that watch its change.
        self.previous: Tensor | None = None
        self.grid: tuple[int, int] | None = None

    def reset(self, streams: Sequence[int] | None = None) -> None:
        """Start the given streams (all when None) afresh; their next frame runs dense."""
        if self.gate is not None:
            self.gate.reset(streams)

    def follow_grid(self, grid: tuple[int, int]) -> None:
        """Reset every stream, with a warning, when the frames' patch grid changes.

        The EMA, cache and anchors are indexed by patch position, so after a change of grid
        they describe other places of the image, even when the token count is unchanged
        (32x64 -> 64x32 px): the next frame must start afresh (dense), like a new stream.
        """
        grid = (int(grid[0]), int(grid[1]))
        if self.grid is not None and grid != self.grid and self.gate is not None:
            warnings.warn(
                f"frame grid changed from {self.grid[0]}x{self.grid[1]} to {grid[0]}x{grid[1]} "
                "patches (resolution or aspect change); resetting every stream of this state",
                RuntimeWarning,
                stacklevel=4,
            )
            self.gate.reset()
            self.cache = None
            self.anchors = None
            self.previous = None
        self.grid = grid

    def nbytes(self) -> int:
        """Bytes of per-stream state held for all streams."""
        rows = (self.cache, self.anchors, self.previous)
        own = sum(t.numel() * t.element_size() for t in rows if t is not None)
        return own + (self.gate.nbytes() if self.gate is not None else 0)

    def buffer(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """The named state buffer, (re)allocated when its shape, dtype or device changed."""
        current = getattr(self, name)
        if (
            current is None
            or current.shape != shape
            or current.dtype != like.dtype
            or current.device != like.device
        ):
            current = torch.zeros(shape, dtype=like.dtype, device=like.device)
            setattr(self, name, current)
        elif current.is_inference() and not torch.is_inference_mode_enabled():
            current = current.clone()  # made under inference_mode, now updated outside it
            setattr(self, name, current)
        return current


def check_frames(pixels: Tensor, tower: VisionTower, state: StreamState) -> None:
    """Raise ``ValueError`` naming the problem for frames the tower cannot take.

    Args:
        pixels: ``[B, C, H, W]`` floating-point frames, normalised like the model's processor.
        tower: The tower that will read them.
        state: The streams' state (its batch must match).
    """
    if not isinstance(pixels, Tensor) or pixels.dim() != 4:
        shape = tuple(pixels.shape) if isinstance(pixels, Tensor) else type(pixels).__name__
        raise ValueError(f"frames must be a [B, C, H, W] tensor, got {shape}")
    if pixels.shape[1] != tower.num_channels:
        raise ValueError(
            f"frames have {pixels.shape[1]} channels but the model expects {tower.num_channels} "
            "(convert grayscale/RGBA to RGB first)"
        )
    if not pixels.is_floating_point():
        # uint8 (0..255), int64 or bool frames would be read as if already normalised.
        raise ValueError(
            f"frames must be a floating-point tensor normalised with the model's processor "
            f"mean/std (e.g. roughly [-1, 1] for SigLIP), got dtype {pixels.dtype}; convert "
            "with (frames.float() / 255 - mean) / std"
        )
    if pixels.shape[0] != state.batch:
        raise ValueError(
            f"frames hold {pixels.shape[0]} streams but the state was made for {state.batch}; "
            "use new_state(batch=...) with the batch size of the frames"
        )
    # One reduction pass: a finite float32 sum proves every pixel finite; only when it is not
    # (NaN, inf, or an overflow of huge finite values) is the element-wise check run.
    if not torch.isfinite(pixels.sum(dtype=torch.float32)):
        if not torch.isfinite(pixels).all():
            raise ValueError("frames contain NaN or infinite pixel values")
    tower.grid_for(pixels.shape[-2], pixels.shape[-1])


class Architecture(nn.Module):
    """Base of every method: a tower plus (optionally) a gate. Subclasses register with
    :func:`~neuroflow.archs.registry.register_method` and declare, as class attributes, what
    the registry reports about them (see :mod:`neuroflow.archs.registry`).

    Args:
        tower: The vision tower.
        gate: The gate (anything that follows :class:`~neuroflow.core.protocols.Gate`), or
            None (dense).

    Attributes:
        name: Registry key.
        uses_gate: ``make_arch`` builds or checks a gate for it.
        uses_cache: It keeps a cortical cache (``make_arch`` passes a ``cache``).
        gate_type: Gate class ``make_arch`` builds from a :class:`GateConfig` (its
            ``from_config(config, seed)``).
        pools: ``"all"``: the head pools over all ``P + N`` tokens; ``"active"``: over the
            kept tokens only.
        calibrated: The setting that sets this method's keep fraction when no setting hits
            a keep fraction directly (e.g. ``"threshold"`` of whole-frame reuse): matched-k
            comparisons search it (keep fraction non-increasing in it); None otherwise.
    """

    name: ClassVar[str] = "base"
    uses_gate: ClassVar[bool] = True
    uses_cache: ClassVar[bool] = False
    gate_type: ClassVar[type] = RetinalGate
    pools: ClassVar[Literal["all", "active"]] = "all"
    calibrated: ClassVar[str | None] = None

    @classmethod
    def keep_settings(cls, keep_fraction: float) -> dict[str, Any]:
        """``make_arch`` settings that make this method run at ``keep_fraction``.

        The keep fraction is the share of the ``N`` patches the encoder processes per frame,
        averaged over its blocks for methods whose token count changes with depth (ToMe,
        dropping): what ``ArchOutput.keep_fraction`` reports. Gated methods keep exactly
        that share per frame with a budget gate. Methods with a :attr:`calibrated` setting
        return the settings besides it (the comparison searches that one).

        Raises:
            ValueError: ``keep_fraction`` outside (0, 1].
        """
        if not 0.0 < keep_fraction <= 1.0:
            raise ValueError(f"keep fraction must lie in (0, 1], got {keep_fraction}")
        if not cls.uses_gate or cls.calibrated is not None:
            return {}
        return {"mode": "budget", "keep_fraction": float(keep_fraction)}

    @classmethod
    def keep_follows_gate(cls) -> bool:
        """True when the gate's keep fraction is the method's (the default
        :meth:`keep_settings`): a gate calibrated to ``k`` then runs the method at ``k``."""
        default = Architecture.keep_settings.__func__  # type: ignore[attr-defined]
        own = cls.keep_settings.__func__  # type: ignore[attr-defined]
        return cls.uses_gate and cls.calibrated is None and own is default

    def __init__(self, tower: VisionTower, gate: Gate | None = None) -> None:
        super().__init__()
        self.tower = tower
        self.gate = gate

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        """Encoder FLOPs of one frame when ``n`` tokens (class tokens included) are kept.

        Args:
            bd: Dense cost breakdown of the tower at the frame's resolution (the
                benchmark's ``FlopBreakdown``: ``block_cost``, ``tokens``, ...).
            n: Tokens that reach the encoder.
            **settings: The method's settings that change its cost.
        """
        return bd.block_cost(n, bd.layers)

    @classmethod
    def frame_flops(cls, bd: Any, k: float, *, hf_head: bool = False, **settings: Any) -> float:
        """The cost model: FLOPs of one frame of one stream at keep fraction ``k``.

        Patch embedding (always dense: the gate needs it), the encoder on the kept tokens, and
        the pooling head over all tokens or the kept ones (``pools``).

        Args:
            bd: Dense cost breakdown (see :meth:`encoder_flops`).
            k: Share of the ``N`` patches kept, in [0, 1].
            hf_head: Count the HF model's own head instead of the folded ``fast_pool``.
            **settings: The method's settings that change its cost.
        """
        if not 0.0 <= k <= 1.0:
            raise ValueError(f"keep fraction must lie in [0, 1], got {k}")
        n = bd.num_prefix + k * bd.num_patches
        pooled = n if cls.pools == "active" else bd.tokens
        head = bd.hf_head if hf_head else bd.head
        return bd.patch_embed + cls.encoder_flops(bd, n, **settings) + head(pooled)

    def cost_settings(self) -> dict[str, Any]:
        """This instance's settings that enter :meth:`frame_flops`."""
        return {}

    def flops(self, bd: Any, k: float, *, hf_head: bool = False) -> float:
        """:meth:`frame_flops` with this instance's settings."""
        return self.frame_flops(bd, k, hf_head=hf_head, **self.cost_settings())

    def new_state(self, batch: int = 1) -> StreamState:
        """Fresh state for ``batch`` independent streams."""
        return StreamState(batch, self.gate)

    def gate_step(self, emb: Embedded, state: StreamState) -> GateOutput:
        """Run the gate on the frame's layer-0 features (a change of grid resets the streams)."""
        assert self.gate is not None and state.gate is not None
        state.follow_grid(emb.grid)
        if hasattr(state.gate, "grid"):  # gate states that lay patches out (GateState) read it
            state.gate.grid = emb.grid
        return self.gate.step(emb.gate_features(self.gate.config.signal), state.gate)

    def full_keep(self, keep: Tensor) -> Tensor:
        """Keep mask over all tokens: class tokens (always kept) then patches."""
        prefix = keep.new_ones(keep.shape[0], self.tower.num_prefix_tokens)
        return torch.cat([prefix, keep], dim=1)

    def output(self, embedding: Tensor, gated: GateOutput, emb: Embedded) -> ArchOutput:
        """Bundle the embedding with the gate's decision."""
        return ArchOutput(
            embedding, gated.keep_mask, gated.surprise, gated.keep_fraction, emb.stretch
        )

    def forward(self, pixels: Tensor, state: StreamState) -> ArchOutput:
        """Process one frame of every stream.

        Args:
            pixels: ``[B, C, H, W]`` normalised frames, one per stream.
            state: The streams' state (from :meth:`new_state`), updated in place.
        """
        check_frames(pixels, self.tower, state)
        return self.step(self.tower.embed(pixels), state)

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        """Architecture-specific part of :meth:`forward`."""
        raise NotImplementedError


@register_method
class Dense(Architecture):
    """The unmodified tower on every token (the reference)."""

    name = "dense"
    uses_gate = False

    def __init__(self, tower: VisionTower) -> None:
        super().__init__(tower)

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        return bd.block_cost(bd.tokens, bd.layers)

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        embedding = self.tower.fast_pool(self.tower.encode(emb.tokens))
        b, n = emb.patch_features.shape[:2]
        keep = torch.ones(b, n, dtype=torch.bool, device=embedding.device)
        gated = GateOutput(
            keep,
            torch.zeros(b, n, device=embedding.device),
            torch.ones(b, device=embedding.device),
            torch.zeros(b, dtype=torch.bool, device=embedding.device),
        )
        return self.output(embedding, gated, emb)
