"""Event-triggered refresh: notice that a stream's content changed, recompute what depends on it.

A cortical cache goes stale without the gate noticing: when a digit turns into another, the
background patches' pixels do not change, yet their cached final-layer outputs were computed
while the old digit was in view, and the pooling head keeps reading the old digit from them.
:class:`EventRefresh` watches one signal per stream after every frame,

* ``"drift"``: how far the active tokens' fresh outputs moved from their cached values
  (mean cosine distance over the recomputed tokens);
* ``"pooled"``: how far the pooled embedding moved from the previous frame's (cosine distance);
* ``"surprise"``: the gate's surprise mass (mean surprise over the patches),

and where it exceeds ``trigger`` schedules a response for the stream's next frame: a dense
``"keyframe"``, or a refresh of the ``budget`` share of patches whose cache entries are the
``"stalest"`` (largest age). The response goes through the gate state (a forced keyframe, or
:meth:`~neuroflow.core.gate.GateState.request_refresh`), so every refreshed token is counted
in the frame's keep fraction. The response comes one frame after the event: the signals that
read the encoder's outputs exist only once the frame is encoded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroflow.core.packing import Packing

RefreshSignal = Literal["drift", "pooled", "surprise"]
RefreshResponse = Literal["keyframe", "stalest"]
SIGNALS = ("drift", "pooled", "surprise")
RESPONSES = ("keyframe", "stalest")


@dataclass(frozen=True)
class EventRefresh:
    """When a stream's content changed, and what to recompute then.

    Attributes:
        signal: What is watched: ``"drift"``, ``"pooled"`` or ``"surprise"`` (module doc).
        trigger: The event fires on a stream when its signal is strictly above this.
            Drift and pooled change are cosine distances (in [0, 2]); surprise mass is a
            mean cosine surprise (in [0, 2]).
        response: ``"keyframe"`` (recompute every patch next frame) or ``"stalest"``
            (recompute the ``budget`` share of patches with the oldest cache entries).
        budget: Share of the ``N`` patches a ``"stalest"`` refresh recomputes, in (0, 1].
    """

    signal: RefreshSignal = "pooled"
    trigger: float = 0.02
    response: RefreshResponse = "stalest"
    budget: float = 0.25

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(f"refresh signal must be one of {SIGNALS}, got {self.signal!r}")
        if self.response not in RESPONSES:
            raise ValueError(f"refresh response must be one of {RESPONSES}, got {self.response!r}")
        if not 0.0 <= float(self.trigger) <= 2.0:
            raise ValueError(f"refresh trigger must lie in [0, 2], got {self.trigger}")
        if not 0.0 < float(self.budget) <= 1.0:
            raise ValueError(f"refresh budget must lie in (0, 1], got {self.budget}")

    def fired(self, value: Tensor, first_frame: Tensor) -> Tensor:
        """``[B]`` bool: streams whose signal ``value`` is above the trigger (never on a
        stream's first frame, which has nothing to compare with)."""
        return (value > self.trigger) & ~first_frame.to(value.device)

    def respond(self, gate_state: object, fired: Tensor) -> None:
        """Schedule the response of the streams that ``fired`` on their next frame.

        Args:
            gate_state: The streams' gate state (a :class:`~neuroflow.core.gate.GateState`:
                ``force_keyframe``, ``request_refresh`` and ``age``).
            fired: ``[B]`` bool from :meth:`fired`.
        """
        streams = fired.nonzero().flatten().tolist()
        if not streams:
            return
        if self.response == "keyframe":
            gate_state.force_keyframe(streams)  # type: ignore[attr-defined]
            return
        age = gate_state.age  # type: ignore[attr-defined]
        mask = stalest(age, math.ceil(self.budget * age.shape[1] - 1e-9))
        gate_state.request_refresh(mask & fired.to(mask.device)[:, None])  # type: ignore[attr-defined]


def stalest(age: Tensor, count: int) -> Tensor:
    """``[B, N]`` bool: the ``count`` patches of each stream with the largest age.

    Ties (patches of equal age) go to the lower patch index, so the choice is deterministic.
    """
    n = age.shape[1]
    count = max(0, min(int(count), n))
    mask = torch.zeros(age.shape, dtype=torch.bool, device=age.device)
    if count:
        # age * n - index orders by age, then by lower index first; exact in int64.
        order = age.long() * n - torch.arange(n, device=age.device)
        mask.scatter_(1, order.topk(count, dim=1).indices, True)
    return mask


def output_drift(before: Tensor, after: Tensor, packing: Packing) -> Tensor:
    """``[B]`` mean cosine distance between the packed tokens' cached and fresh outputs.

    Args:
        before: ``[T, D]`` cached outputs of the recomputed tokens (before the write).
        after: ``[T, D]`` their fresh outputs.
        packing: Which stream every packed token belongs to.

    Returns:
        Per-stream mean over its recomputed tokens; 0 for a stream that recomputed none.
    """
    distance = 1.0 - F.cosine_similarity(before.float(), after.float(), dim=-1)
    lengths = torch.tensor(packing.lengths, device=distance.device)
    ids = torch.repeat_interleave(torch.arange(packing.batch, device=distance.device), lengths)
    total = torch.zeros(packing.batch, device=distance.device).index_add_(0, ids, distance)
    return total / lengths.clamp(min=1)


def embedding_change(previous: Tensor | None, current: Tensor) -> Tensor:
    """``[B]`` cosine distance of every stream's pooled embedding from its previous one
    (0 when there is no previous embedding)."""
    if previous is None or previous.shape != current.shape:
        return torch.zeros(current.shape[0], device=current.device)
    return 1.0 - F.cosine_similarity(previous.float(), current.float(), dim=-1)


def surprise_mass(surprise: Tensor) -> Tensor:
    """``[B]`` mean gate surprise over the patches of every stream."""
    return surprise.float().mean(dim=1)
