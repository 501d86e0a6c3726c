"""Architectures that remove inactive tokens from the encoder: B, C and D.

* **B** runs the encoder and the pooling head on the active tokens only.
* **C** runs the encoder on the active tokens, writes their final-layer outputs into the
  cortical cache, and pools over all N cached tokens.
* **D** runs the first ``dense_layers`` blocks on every token, the rest on the active
  tokens only, then pools over the cache like C.

C and D take an optional event-triggered refresh (:mod:`neuroflow.core.refresh`): after
each frame a signal per stream decides whether the next frame recomputes stale entries.

Active tokens of different streams are packed into one sequence; attention stays within
each stream.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from neuroflow.archs.base import Architecture, ArchOutput, StreamState
from neuroflow.archs.registry import register_method
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateOutput
from neuroflow.core.packing import Packing, make_packing, pack, to_layout
from neuroflow.core.protocols import Gate
from neuroflow.core.refresh import EventRefresh, embedding_change, output_drift, surprise_mass
from neuroflow.models.tower import Embedded, VisionTower


@register_method
class ArchB(Architecture):
    """Inactive tokens are removed before the encoder; the head sees active tokens only."""

    name = "B"
    pools = "active"

    def __init__(self, tower: VisionTower, gate: Gate) -> None:
        if type(self).pools == "active" and not tower.num_prefix_tokens:
            if gate.config.floor_tokens < 1 and gate.config.mode == "threshold":
                raise ValueError(
                    f"method {self.name!r} pools over the kept tokens only, and this model has "
                    "no class token: a frame that keeps no patch would have nothing to pool; "
                    "set floor_tokens >= 1"
                )
        super().__init__(tower, gate)

    def sparse_encode(self, tokens: Tensor, keep: Tensor, start: int = 0) -> tuple[Tensor, Packing]:
        """Pack the kept tokens of ``tokens`` and run blocks ``start:`` on them.

        Returns:
            The final-layer outputs ``[T, D]`` of the packed tokens and their packing.
        """
        packing = make_packing(self.full_keep(keep))
        x = to_layout(pack(tokens, packing), packing)
        if x.numel() == 0:  # no stream kept a token (C's cache still pools every slot)
            return x.reshape(0, x.shape[-1]), packing
        x = self.tower.encode(x, start=start, packing=None if packing.uniform else packing)
        return x.reshape(-1, x.shape[-1]), packing

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        hidden, packing = self.sparse_encode(emb.tokens, gated.keep_mask)
        return self.output(self.tower.pool_packed(hidden, packing), gated, emb)


@register_method
class ArchC(ArchB):
    """B plus a cortical cache of final-layer outputs; the head pools over all N tokens.

    Args:
        tower: The vision tower.
        gate: The retinal gate (must keep the first frame dense: it fills the cache).
        cache: Cache write policy.
        refresh: Event-triggered refresh of stale cache entries (None: no refresh).
    """

    name = "C"
    uses_cache = True
    pools = "all"

    def __init__(
        self,
        tower: VisionTower,
        gate: Gate,
        cache: CorticalCache | None = None,
        refresh: EventRefresh | None = None,
    ):
        if not gate.config.dense_first_frame:
            raise ValueError(f"Arch {self.name} needs dense_first_frame=True to fill its cache")
        if refresh is not None and not hasattr(gate.new_state(1), "request_refresh"):
            raise ValueError(
                f"an event-triggered refresh needs a gate whose state takes refresh requests "
                f"(the retinal gate's); {type(gate).__name__} does not"
            )
        super().__init__(tower, gate)
        self.cache = cache if cache is not None else CorticalCache()
        self.refresh = refresh

    def cached_pool(
        self, hidden: Tensor, packing: Packing, gated: GateOutput, emb: Embedded, state: StreamState
    ) -> Tensor:
        """Write the active outputs into the stream cache, pool over every slot, and let the
        refresh (if any) schedule the next frame's response."""
        buffer = state.buffer("cache", tuple(emb.tokens.shape), hidden)
        watch_drift = self.refresh is not None and self.refresh.signal == "drift"
        before = pack(buffer, packing) if watch_drift else None
        self.cache.write(buffer, hidden, packing, gated.first_frame)
        pooled = self.tower.fast_pool(buffer)
        if self.refresh is not None:
            self.schedule_refresh(pooled, gated, state, before, hidden, packing)
        return pooled

    def schedule_refresh(
        self,
        pooled: Tensor,
        gated: GateOutput,
        state: StreamState,
        before: Tensor | None,
        hidden: Tensor,
        packing: Packing,
    ) -> None:
        """Measure the refresh signal of every stream and schedule the response where it fires."""
        assert self.refresh is not None
        signal = self.refresh.signal
        if signal == "drift":
            assert before is not None
            value = output_drift(before, hidden, packing)
        elif signal == "pooled":
            value = embedding_change(state.previous, pooled)
            state.previous = pooled.detach().clone()
        else:
            value = surprise_mass(gated.surprise)
        self.refresh.respond(state.gate, self.refresh.fired(value, gated.first_frame))

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        hidden, packing = self.sparse_encode(emb.tokens, gated.keep_mask)
        pooled = self.cached_pool(hidden, packing, gated, emb, state)
        return self.output(pooled, gated, emb)


@register_method
class ArchD(ArchC):
    """The first ``dense_layers`` blocks run on every token, the rest sparse, plus the cache.

    Args:
        tower: The vision tower.
        gate: The retinal gate.
        cache: Cache write policy.
        dense_layers: Number of leading blocks run densely (0 gives Arch C); None runs
            half of the blocks densely.
        refresh: Event-triggered refresh of stale cache entries (None: no refresh).
    """

    name = "D"

    def __init__(
        self,
        tower: VisionTower,
        gate: Gate,
        cache: CorticalCache | None = None,
        dense_layers: int | None = None,
        refresh: EventRefresh | None = None,
    ):
        super().__init__(tower, gate, cache, refresh)
        if dense_layers is None:
            dense_layers = len(tower.blocks) // 2
        if not 0 <= dense_layers <= len(tower.blocks):
            raise ValueError(
                f"dense_layers must lie in [0, {len(tower.blocks)}], got {dense_layers}"
            )
        self.dense_layers = int(dense_layers)

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, *, dense_layers: int | None = None) -> float:
        dense = bd.layers // 2 if dense_layers is None else dense_layers
        return bd.block_cost(bd.tokens, dense) + bd.block_cost(n, bd.layers - dense)

    def cost_settings(self) -> dict[str, Any]:
        return {"dense_layers": self.dense_layers}

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        gated = self.gate_step(emb, state)
        early = self.tower.encode(emb.tokens, stop=self.dense_layers)
        hidden, packing = self.sparse_encode(early, gated.keep_mask, start=self.dense_layers)
        pooled = self.cached_pool(hidden, packing, gated, emb, state)
        return self.output(pooled, gated, emb)
