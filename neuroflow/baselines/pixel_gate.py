"""Pixel-difference gate: recompute the patches whose pixels changed (the classic video codec
and event-camera baseline), in Arch C in place of the retinal gate.

For every stream ``b`` and patch ``i`` the score is the mean absolute difference between the
patch's pixels ``x[b, i]`` (``[C * p * p]``, on the processor-normalised scale) and a
reference ``E[b, i]``:

* ``reference="previous"``: the previous frame (``E <- x`` after every frame);
* ``reference="ema"``: an EMA of the frames, ``E <- (1 - alpha) E + alpha x`` with
  ``alpha = ema_decay`` (per stream, like the retinal gate), a slow background model.

``normalise="absolute"`` thresholds the score itself; ``normalise="frame_max"`` divides it by
the frame's largest patch score, so the most changed patch scores exactly 1 (a static frame
scores 0 everywhere). The keep rule is the retinal gate's: ``score > threshold`` (strict, per
stream ``state.threshold``) in threshold mode, the top ``ceil(keep_fraction * N)`` in budget
mode, then ``floor_tokens``, ``max_cache_age`` and ``global_motion_norm`` as there; the first
frame after a reset is dense and scores 0. The state is a :class:`~neuroflow.core.gate.GateState`
whose ``ema`` holds the reference, so schedules and controllers drive it unchanged.

Registered as the method ``"pixel_C"``: ``make_arch("pixel_C", tower, reference="ema",
normalise="frame_max", threshold=0.05)``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import torch
from torch import Tensor

from neuroflow.archs.pruned import ArchC
from neuroflow.archs.registry import register_method
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateConfig, GateState, RetinalGate
from neuroflow.core.protocols import Gate
from neuroflow.models.tower import VisionTower

Reference = Literal["previous", "ema"]
Normalise = Literal["absolute", "frame_max"]
REFERENCES = ("previous", "ema")
NORMALISATIONS = ("absolute", "frame_max")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def pixel_difference(pixels: Tensor, reference: Tensor) -> Tensor:
    """``[B, N]`` mean absolute difference over each patch's pixels (``[B, N, C*p*p]``)."""
    return (pixels - reference).abs().mean(dim=-1)


class PixelGate(RetinalGate):
    """Scores patches by pixel change against a reference frame; otherwise the retinal gate.

    Args:
        config: Gate settings; its ``signal`` must be ``"pixels"`` (the architectures then
            hand the gate each patch's pixels). None: ``GateConfig(signal="pixels")``.
        reference: ``"previous"`` (the last frame) or ``"ema"`` (EMA of the frames, weight
            ``config.ema_decay``).
        normalise: ``"absolute"`` (mean absolute difference) or ``"frame_max"`` (divided by
            the frame's largest patch score, in [0, 1]).

    Raises:
        ValueError: A config with another signal, or an unknown reference/normalisation.
    """

    def __init__(
        self,
        config: GateConfig | None = None,
        reference: Reference = "previous",
        normalise: Normalise = "absolute",
    ) -> None:
        config = config if config is not None else GateConfig(signal="pixels")
        if config.signal != "pixels":
            raise ValueError(
                f"the pixel-difference gate compares patch pixels: its GateConfig needs "
                f"signal='pixels', got signal={config.signal!r} (PixelGate.from_config sets it)"
            )
        _check_choice("reference", reference, REFERENCES)
        _check_choice("normalise", normalise, NORMALISATIONS)
        super().__init__(config)
        self.reference = reference
        self.normalise = normalise

    @classmethod
    def from_config(cls, config: GateConfig, seed: int = 0) -> PixelGate:
        """The pixel gate of ``config`` with ``signal`` set to ``"pixels"`` (its only input;
        ``seed`` is unused: the gate is deterministic)."""
        return cls(replace(config, signal="pixels"))

    def configured(
        self, reference: Reference | None = None, normalise: Normalise | None = None
    ) -> PixelGate:
        """A copy with the given settings changed (None keeps this gate's); self is untouched."""
        return type(self)(
            self.config,
            reference if reference is not None else self.reference,
            normalise if normalise is not None else self.normalise,
        )

    def score(self, pixels: Tensor, reference: Tensor, fresh: Tensor) -> Tensor:
        """``[B, N]`` change score of every patch (0 on fresh streams: no reference yet)."""
        score = pixel_difference(pixels, reference)
        score = torch.where(fresh[:, None], torch.zeros_like(score), score)
        if self.normalise == "frame_max":
            # x / x is exactly 1 in IEEE arithmetic, so the top patch scores exactly 1.0; the
            # clamp only matters for a frame with no change (0 / tiny = 0 everywhere).
            top = score.amax(dim=1, keepdim=True).clamp_min(torch.finfo(score.dtype).tiny)
            score = score / top
        return score

    def move_reference(self, x: Tensor, fresh: Tensor, state: GateState) -> None:
        """The frame itself (``reference="previous"``), or the EMA step (the frame when fresh)."""
        assert state.ema is not None
        if self.reference == "previous":
            state.ema.copy_(x)  # exactly the frame, whatever a schedule set as EMA decay
        else:
            super().move_reference(x, fresh, state)


@register_method
class PixelC(ArchC):
    """Arch C's encoder and cortical cache with the pixel-difference gate choosing patches.

    Args:
        tower: The vision tower.
        gate: A :class:`PixelGate` (``make_arch`` builds one from gate settings).
        cache: Cache write policy.
        reference: ``"previous"`` or ``"ema"``; None keeps the gate's (default previous).
        normalise: ``"absolute"`` or ``"frame_max"``; None keeps the gate's (default absolute).

    Raises:
        TypeError: ``gate`` is not a :class:`PixelGate`.
    """

    name = "pixel_C"
    gate_type = PixelGate

    def __init__(
        self,
        tower: VisionTower,
        gate: Gate,
        cache: CorticalCache | None = None,
        reference: Reference | None = None,
        normalise: Normalise | None = None,
    ) -> None:
        if not isinstance(gate, PixelGate):
            raise TypeError(
                f"method 'pixel_C' needs a PixelGate (the pixel-difference gate), got "
                f"{type(gate).__name__}; pass a GateConfig or gate settings instead"
            )
        # A configured copy: the caller's gate object keeps its own settings.
        super().__init__(tower, gate.configured(reference, normalise), cache)

    @property
    def reference(self) -> str:
        """The gate's reference (``"previous"`` or ``"ema"``)."""
        return self.gate.reference  # type: ignore[union-attr]

    @property
    def normalise(self) -> str:
        """The gate's score normalisation (``"absolute"`` or ``"frame_max"``)."""
        return self.gate.normalise  # type: ignore[union-attr]
