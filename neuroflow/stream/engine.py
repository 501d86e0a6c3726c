"""Serve many named camera streams through one encoder: :class:`StreamEngine`.

Streams join, leave and reset at any tick. A tick takes one frame from any subset of the
streams and runs one batched step of the architecture: the active tokens of all of them are
packed into one encoder call, while every stream keeps its own gate state, cache, threshold,
EMA decay and keep target.

Each stream owns a single-stream state. The engine stacks the states of the streams in a
tick (:mod:`neuroflow.core.rows`) and keeps the stacked state while the same streams keep
ticking together, so the steady state costs no copies; only a change of the ticking set
splits and restacks. A stream's results do not depend on which other streams share its
ticks (the packed-equality tests check it).

    engine = StreamEngine(make_arch("C", tower, threshold=0.2))
    engine.add_stream("door", target_keep=0.15)
    engine.add_stream("yard")
    out = engine.tick({"door": frame_a, "yard": frame_b})   # normalised [3, H, W] frames
    out["door"].embedding, out["door"].keep_mask, engine.stats()["door"].keep_fraction
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from neuroflow.archs.base import Architecture, ArchOutput, StreamState
from neuroflow.core.rows import split_state, stack_states
from neuroflow.core.schedules import adapt_threshold
from neuroflow.stream.stats import StreamStats, attribute_seconds


@dataclass
class StreamFrame:
    """One stream's result of one tick.

    Attributes:
        embedding: ``[D]`` pooled embedding of the frame.
        keep_mask: ``[N]`` bool, patches recomputed (row-major over ``grid``).
        surprise: ``[N]`` gate surprise.
        keep_fraction: Share of patches recomputed.
        first_frame: True on the stream's first frame after joining or a reset (dense).
        threshold: The gate threshold the frame ran with (None for gates without one).
        grid: Patch grid (rows, cols).
        frame: Index of the frame within the stream (0-based, counted since joining).
    """

    embedding: Tensor
    keep_mask: Tensor
    surprise: Tensor
    keep_fraction: float
    first_frame: bool
    threshold: float | None
    grid: tuple[int, int]
    frame: int


@dataclass
class _Stream:
    state: StreamState
    target_keep: float | None
    stats: StreamStats = field(default_factory=StreamStats)


class StreamEngine:
    """Named streams sharing one architecture (and its encoder calls).

    Args:
        arch: Any registered method built with :func:`~neuroflow.archs.make_arch`.
        gain: Step size of the per-stream target-keep controller.
        min_threshold: Lower bound of a controlled threshold.
    """

    def __init__(self, arch: Architecture, gain: float = 0.5, min_threshold: float = 1e-5):
        self.arch = arch
        self.gain, self.min_threshold = float(gain), float(min_threshold)
        param = next(arch.tower.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.frame_shape: tuple[int, int, int] | None = None  # (C, H, W), set by the first tick
        self.grid: tuple[int, int] | None = None  # patch grid of those frames
        self._streams: dict[str, _Stream] = {}
        self._stacked: StreamState | None = None
        self._stacked_names: tuple[str, ...] = ()

    # --- membership ------------------------------------------------------------------------
    @property
    def streams(self) -> list[str]:
        """Names of the streams, in the order they joined."""
        return list(self._streams)

    def add_stream(
        self,
        name: str,
        *,
        threshold: float | None = None,
        ema_decay: float | None = None,
        target_keep: float | None = None,
    ) -> None:
        """Add a stream; its first frame runs dense.

        Args:
            name: Unique stream name.
            threshold: Its own gate threshold (default: the gate's).
            ema_decay: Its own EMA decay (default: the gate's).
            target_keep: Keep fraction the stream's threshold is steered to hold after every
                frame (None: the threshold stays fixed). Needs a threshold-mode gate.

        Raises:
            ValueError: A duplicate name, or settings the gate cannot take.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"stream names must be non-empty strings, got {name!r}")
        if name in self._streams:
            raise ValueError(f"stream {name!r} already exists")
        state = self.arch.new_state(1)
        gate = state.gate
        if (threshold, ema_decay, target_keep) != (None, None, None):
            self._check_gate_settings(name, target_keep, state)
        if threshold is not None:
            gate.set_threshold(threshold)  # type: ignore[union-attr]
        if ema_decay is not None:
            gate.set_ema_decay(ema_decay)  # type: ignore[union-attr]
        if target_keep is not None and not 0.0 < target_keep <= 1.0:
            raise ValueError(f"stream {name!r}: target_keep must lie in (0, 1], got {target_keep}")
        self._streams[name] = _Stream(state, target_keep)

    def remove_stream(self, name: str) -> StreamStats:
        """Remove a stream; returns its final statistics."""
        self._check_known([name])
        self._unstack()
        return self._streams.pop(name).stats

    def reset_stream(self, name: str) -> None:
        """Start a stream afresh (its next frame runs dense); its threshold is kept."""
        self._check_known([name])
        self._unstack()
        stream = self._streams[name]
        stream.state.reset()
        stream.stats.resets += 1
        stream.stats.frames_since_reset = 0

    def set_target_keep(self, name: str, target_keep: float | None) -> None:
        """Change (or clear, with None) the keep target of a stream."""
        self._check_known([name])
        if target_keep is not None:
            self._check_gate_settings(name, target_keep, self._streams[name].state)
            if not 0.0 < target_keep <= 1.0:
                raise ValueError(f"target_keep must lie in (0, 1], got {target_keep}")
        self._streams[name].target_keep = target_keep

    def stats(self) -> dict[str, StreamStats]:
        """Running statistics of every stream."""
        return {name: s.stats for name, s in self._streams.items()}

    def state_bytes(self, name: str) -> int:
        """Bytes of state the engine holds for one stream (gate, cache, anchors)."""
        self._check_known([name])
        if name in self._stacked_names:
            assert self._stacked is not None
            return self._stacked.nbytes() // self._stacked.batch
        return self._streams[name].state.nbytes()

    # --- ticking ---------------------------------------------------------------------------
    @torch.inference_mode()
    def tick(self, frames: Mapping[str, Tensor]) -> dict[str, StreamFrame]:
        """Process one frame of each stream in ``frames`` in one batched step.

        Args:
            frames: Stream name -> ``[C, H, W]`` floating-point frame normalised like the
                model's processor. Every stream's frames must have one size.

        Returns:
            Stream name -> :class:`StreamFrame`, for the streams of this tick.

        Raises:
            ValueError: No frames, an unknown stream, or a frame that does not fit (wrong
                size, dtype, NaN): raised before any state changes, so every stream is
                unaffected.
        """
        names = self._tick_order(frames)
        pixels = self._pixels(frames, names)
        state = self._stacked_state(names)
        start = time.perf_counter()
        out = self.arch(pixels, state)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        thresholds = self._steer(names, state, out.keep_fraction)
        return self._results(names, out, thresholds, seconds)

    def _tick_order(self, frames: Mapping[str, Tensor]) -> list[str]:
        if not isinstance(frames, Mapping) or not frames:
            raise ValueError("a tick needs at least one frame ({stream name: frame})")
        self._check_known(list(frames))
        return [name for name in self._streams if name in frames]

    def _pixels(self, frames: Mapping[str, Tensor], names: list[str]) -> Tensor:
        for name in names:
            self._check_frame(name, frames[name])
        pixels = torch.stack([frames[n].to(self.device, self.dtype) for n in names])
        finite = torch.isfinite(pixels.flatten(1).sum(dim=1, dtype=torch.float32))
        if not finite.all():
            bad = [n for n, ok in zip(names, finite.tolist(), strict=True) if not ok]
            if not all(torch.isfinite(frames[n]).all() for n in bad):  # not just an overflow
                raise ValueError(f"stream(s) {bad}: frame contains NaN or infinite values")
        if self.frame_shape is None:
            self.grid = self.arch.tower.grid_for(pixels.shape[-2], pixels.shape[-1])  # or raises
            self.frame_shape = tuple(pixels.shape[1:])  # type: ignore[assignment]
        return pixels

    def _check_frame(self, name: str, frame: Tensor) -> None:
        if not isinstance(frame, Tensor) or frame.dim() != 3:
            shape = tuple(frame.shape) if isinstance(frame, Tensor) else type(frame).__name__
            raise ValueError(f"stream {name!r}: a frame must be a [C, H, W] tensor, got {shape}")
        if not frame.is_floating_point():
            raise ValueError(
                f"stream {name!r}: frames must be floating point, normalised with the model's "
                f"processor mean/std; got dtype {frame.dtype}"
            )
        expected = self.frame_shape
        if expected is not None and tuple(frame.shape) != expected:
            raise ValueError(
                f"stream {name!r}: frame is {tuple(frame.shape)} but this engine runs "
                f"{expected} frames; resize every stream to one size (the CLI does)"
            )
        if frame.shape[0] != self.arch.tower.num_channels:
            raise ValueError(
                f"stream {name!r}: frame has {frame.shape[0]} channels, the model expects "
                f"{self.arch.tower.num_channels}"
            )

    def _stacked_state(self, names: list[str]) -> StreamState:
        if tuple(names) != self._stacked_names:
            self._unstack()
            self._stacked = stack_states([self._streams[n].state for n in names])
            self._stacked_names = tuple(names)
        assert self._stacked is not None
        return self._stacked

    def _unstack(self) -> None:
        """Give every stream of the stacked state its own rows back."""
        if self._stacked is None:
            return
        for name, own in zip(self._stacked_names, split_state(self._stacked), strict=True):
            if name in self._streams:
                self._streams[name].state = own
        self._stacked, self._stacked_names = None, ()

    def _steer(self, names: list[str], state: StreamState, keep: Tensor) -> list[float | None]:
        """Move the thresholds of streams with a keep target; return the thresholds used."""
        gate = state.gate
        threshold = getattr(gate, "threshold", None)
        if threshold is None:
            return [None] * len(names)
        used = threshold.tolist()
        targets = [self._streams[n].target_keep for n in names]
        rows = [
            i
            for i, (n, t) in enumerate(zip(names, targets, strict=True))
            if t is not None and self._streams[n].stats.frames_since_reset > 0
        ]
        if rows:
            index = torch.tensor(rows)
            target = torch.tensor([targets[i] for i in rows])
            new = adapt_threshold(
                threshold[index.to(threshold.device)],
                keep[index.to(keep.device)],
                target,
                self.gain,
                self.min_threshold,
            )
            gate.set_threshold(new, rows)  # type: ignore[union-attr]
        return used

    def _results(
        self, names: list[str], out: ArchOutput, thresholds: list[float | None], seconds: float
    ) -> dict[str, StreamFrame]:
        kept = out.keep_mask.sum(dim=1).tolist()
        shares = attribute_seconds(seconds, kept, self.arch.tower.num_prefix_tokens)
        results = {}
        for i, name in enumerate(names):
            stats = self._streams[name].stats
            first = stats.frames_since_reset == 0
            keep_fraction = float(out.keep_fraction[i])
            results[name] = StreamFrame(
                out.embedding[i],
                out.keep_mask[i],
                out.surprise[i],
                keep_fraction,
                first,
                thresholds[i],
                self.grid,  # type: ignore[arg-type]
                stats.frames,
            )
            stats.record(int(kept[i]), out.keep_mask.shape[1], first, shares[i], seconds)
        return results

    # --- checks ----------------------------------------------------------------------------
    def _check_known(self, names: list[str]) -> None:
        unknown = [n for n in names if n not in self._streams]
        if unknown:
            known = ", ".join(map(repr, self._streams)) or "none"
            raise ValueError(f"unknown stream(s) {unknown}; the engine has: {known}")

    def _check_gate_settings(
        self, name: str, target_keep: float | None, state: StreamState
    ) -> None:
        gate = self.arch.gate
        if gate is None:
            raise ValueError(f"stream {name!r}: method {self.arch.name!r} has no gate to set")
        if not hasattr(state.gate, "set_threshold"):
            raise ValueError(
                f"stream {name!r}: the {type(gate).__name__} of method {self.arch.name!r} has "
                "no threshold or EMA decay to set per stream"
            )
        if target_keep is not None and gate.config.mode == "budget":
            raise ValueError(
                f"stream {name!r}: a budget-mode gate keeps gate.keep_fraction on every frame; "
                "a per-stream keep target needs mode=threshold"
            )
