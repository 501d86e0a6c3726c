"""Similarity-gated attention bypass for HF causal LMs (the paper's language-model ablation).

At a gate layer G, the attention output of the newest token is compared by cosine with the
previous token's; when ``cos >= threshold`` the attention of each cache layer C is bypassed
and C's previous fresh output is reused. Prefill is always dense; only decode steps (one new
token) can bypass. Usage::

    bypass = apply_bypass(model, gate_layer=1, cache_layers=[6], threshold=0.65)
    model.generate(ids, max_new_tokens=64, do_sample=False)   # or a plain decode loop
    bypass.stats()["bypass_rate"]
    bypass.remove()

Two ways to treat the KV cache on a bypass step (``kv=``):

- ``"advance"`` (the paper's method section): the new token's keys and values are projected
  (RoPE applied) and written into layer C's cache, so the cache length always equals the
  sequence length; the attention and the output projection are skipped.
- ``"hole"`` (what the published script does): nothing runs and nothing is written, so layer
  C's cache misses every bypassed token and later tokens never see them there. Not for C = 0:
  HF models size the masks and positions of every layer from layer 0's cache length.

With ``gate_layer > cache_layer`` (the paper's "inverted" L1→L0) layer C runs before the gate
of the same step, so it follows the previous step's decision. Decisions are per sequence of
the batch (``"advance"``); a step saves compute only when every row bypasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from neuroflow.llm.families import Family, family_of

KV_MODES = ("advance", "hole")


@dataclass(frozen=True)
class BypassConfig:
    """Where the gate and the bypass sit and when the bypass fires.

    Attributes:
        gate_layer: Layer whose attention output is compared across consecutive tokens.
        cache_layers: Layers whose attention is bypassed when the gate fires.
        threshold: Fire when ``cos >= threshold``; above 1 the bypass never fires.
        kv: ``"advance"`` or ``"hole"`` (see the module docstring).
    """

    gate_layer: int = 1
    cache_layers: tuple[int, ...] = (6,)
    threshold: float = 0.65
    kv: str = "advance"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_layers", tuple(int(c) for c in self.cache_layers))
        if self.kv not in KV_MODES:
            raise ValueError(f"kv must be one of {KV_MODES}, got {self.kv!r}")
        if not self.cache_layers:
            raise ValueError("cache_layers is empty: name at least one layer to bypass")
        if self.kv == "hole" and 0 in self.cache_layers:
            # HF derives the attention-mask size and the positions of every layer from layer
            # 0's cache length: a hole there breaks the whole model, not just one layer.
            raise ValueError(
                "kv='hole' cannot bypass layer 0: the model sizes its attention masks and "
                "positions from layer 0's cache, so every later layer would break; use "
                "kv='advance' for cache layer 0"
            )
        if self.gate_layer in self.cache_layers:
            raise ValueError(
                f"gate layer {self.gate_layer} is also a cache layer: a bypassed layer cannot "
                "measure its own similarity"
            )

    def check_depth(self, num_layers: int) -> None:
        """Raise when a layer index is outside ``[0, num_layers)``."""
        bad = [i for i in (self.gate_layer, *self.cache_layers) if not 0 <= i < num_layers]
        if bad:
            raise ValueError(f"layer(s) {bad} out of range for a {num_layers}-layer model")


@dataclass
class BypassState:
    """Per-sequence gate state and per-step records of one generation (reset at prefill)."""

    previous: torch.Tensor | None = None  # [B, D] gate output of the previous token
    fire: torch.Tensor | None = None  # [B] bool, the latest gate decision
    outputs: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [B, 1, D]
    decoding: bool = False
    similarities: list[torch.Tensor] = field(default_factory=list)  # per decode step, [B]
    applied: list[torch.Tensor] = field(default_factory=list)  # per decode step, [B] bool
    skipped_steps: int = 0  # decode steps on which every row bypassed (compute saved)

    def reset(self) -> None:
        """Forget the previous sequence (called when a new one starts)."""
        self.previous = self.fire = None
        self.outputs.clear()
        self.similarities.clear()
        self.applied.clear()
        self.skipped_steps = 0


class BypassedAttention(nn.Module):
    """Wraps a cache layer's attention module; returns its previous output when the gate fires."""

    def __init__(self, inner: nn.Module, layer: int, bypass: Bypass) -> None:
        super().__init__()
        self.inner, self.layer = inner, layer
        self._bypass = [bypass]  # a list keeps the handle out of the module tree

    def forward(self, *args, **kwargs):
        bypass = self._bypass[0]
        state, hidden = bypass.state, (args[0] if args else kwargs["hidden_states"])
        previous = state.outputs.get(self.layer)
        fire = state.fire if state.decoding and previous is not None else None
        if state.decoding and self.layer == bypass.first_cache_layer:
            no_fire = torch.zeros(hidden.shape[0], dtype=torch.bool, device=hidden.device)
            state.applied.append(no_fire if fire is None else fire)
        if fire is None or not bool(fire.any()):
            return self._fresh(args, kwargs, bypass)
        if bool(fire.all()):
            if bypass.config.kv == "advance":
                keys, values = bypass.family.keys_values(self.inner, hidden, kwargs)
                _cache(kwargs).update(keys, values, self.inner.layer_idx)
            if self.layer == bypass.first_cache_layer:
                state.skipped_steps += 1
            return previous.to(hidden.dtype), None
        out = self._fresh(args, kwargs, bypass)  # mixed rows: fresh for those that did not fire
        mixed = torch.where(fire[:, None, None], previous.to(out[0].dtype), out[0])
        state.outputs[self.layer] = torch.where(fire[:, None, None], previous, out[0][:, -1:])
        return (mixed, *out[1:])

    def _fresh(self, args, kwargs, bypass: Bypass):
        if bypass.config.kv == "hole" and kwargs.get("attention_mask") is not None:
            kwargs = _mask_for_hole(kwargs, self.inner.layer_idx)
        out = self.inner(*args, **kwargs)
        bypass.state.outputs[self.layer] = out[0][:, -1:].detach()
        return out


def _cache_of(kwargs: dict):
    """The KV cache a layer or model call received (transformers 5 names it ``cache``)."""
    return kwargs.get("cache", kwargs.get("past_key_values"))


def _cache(kwargs: dict):
    cache = _cache_of(kwargs)
    if cache is None:
        raise RuntimeError("a bypass step needs the model's KV cache (call with use_cache=True)")
    return cache


def _mask_for_hole(kwargs: dict, layer_idx: int) -> dict:
    # The model builds the mask from layer 0's cache length; a holed layer holds fewer keys.
    # Keep the newest columns (rows attend to everything before them when unpadded, batch 1).
    cache = _cache_of(kwargs)
    mask = kwargs["attention_mask"]
    if cache is None or not torch.is_tensor(mask):
        return kwargs
    length = cache.get_seq_length(layer_idx) + mask.shape[-2]
    return {**kwargs, "attention_mask": mask[..., -length:]}


class Bypass:
    """The handle :func:`apply_bypass` returns: statistics, reset, and :meth:`remove`."""

    def __init__(self, model: nn.Module, config: BypassConfig) -> None:
        self.model, self.config = model, config
        self.family: Family = family_of(model)
        layers = self.family.decoder_layers(model)
        config.check_depth(len(layers))
        self.state = BypassState()
        self.first_cache_layer = min(config.cache_layers)
        self._layers, self._hooks = layers, []
        self._attach()

    def _attach(self) -> None:
        name = self.family.attention
        decoder = self.family.decoder(self.model)
        self._hooks.append(decoder.register_forward_pre_hook(self._on_step, with_kwargs=True))
        gate = getattr(self._layers[self.config.gate_layer], name)
        self._hooks.append(gate.register_forward_hook(self._on_gate))
        for layer in self.config.cache_layers:
            inner = getattr(self._layers[layer], name)
            setattr(self._layers[layer], name, BypassedAttention(inner, layer, self))

    def _on_step(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            ids = kwargs["inputs_embeds"]
        cache = _cache_of(kwargs)
        new_sequence = cache is None or cache.get_seq_length() == 0
        if new_sequence:
            self.state.reset()
        self.state.decoding = not new_sequence and ids.shape[1] == 1
        if self.config.kv == "hole" and self.state.decoding and ids.shape[0] != 1:
            raise ValueError(
                "kv='hole' leaves a different number of cached tokens per sequence; it runs "
                f"with batch 1 only (got {ids.shape[0]}); use kv='advance' for batches"
            )

    def _on_gate(self, module, args, output) -> None:
        current = output[0][:, -1].detach().float()
        state = self.state
        if state.decoding and state.previous is not None:
            similarity = F.cosine_similarity(current, state.previous, dim=-1).clamp(-1.0, 1.0)
            state.similarities.append(similarity)
            state.fire = similarity >= self.config.threshold
        else:
            state.fire = None
        state.previous = current

    def reset(self) -> None:
        """Forget the current sequence (a new prefill also does this)."""
        self.state.reset()

    def stats(self) -> dict:
        """Bypass rate, skipped steps and gate-similarity percentiles of the current sequence.

        ``bypass_rate`` counts row-steps: (sequences × decode steps) on which the cache layers
        returned their previous output, over all decode row-steps that had one to return.
        """
        state = self.state
        applied = (
            torch.stack(state.applied) if state.applied else torch.zeros(0, 0, dtype=torch.bool)
        )
        sims = torch.stack(state.similarities).flatten() if state.similarities else torch.zeros(0)
        quantiles = (
            torch.quantile(sims, torch.tensor([0.1, 0.5, 0.9])).tolist()
            if sims.numel()
            else [None] * 3
        )
        steps = int(applied.shape[0])
        return {
            "decode_steps": steps,
            "bypass_rate": float(applied.float().mean()) if applied.numel() else 0.0,
            "skipped_step_rate": state.skipped_steps / steps if steps else 0.0,
            "gate_p10": quantiles[0],
            "gate_p50": quantiles[1],
            "gate_p90": quantiles[2],
        }

    def remove(self) -> None:
        """Restore the original attention modules and drop the hooks."""
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        for layer in self.config.cache_layers:
            wrapped = getattr(self._layers[layer], self.family.attention)
            if isinstance(wrapped, BypassedAttention):
                setattr(self._layers[layer], self.family.attention, wrapped.inner)

    def __enter__(self) -> Bypass:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def apply_bypass(
    model: nn.Module,
    gate_layer: int = 1,
    cache_layers: Sequence[int] = (6,),
    threshold: float = 0.65,
    kv: str = "advance",
) -> Bypass:
    """Install the similarity-gated attention bypass on an HF causal LM (in place).

    Args:
        model: A Phi-3, GPT-2 or Llama-layout causal LM (see :mod:`neuroflow.llm.families`).
        gate_layer: Layer whose attention output gates the bypass.
        cache_layers: Layers whose attention is bypassed.
        threshold: Cosine similarity at or above which the bypass fires (> 1: never).
        kv: ``"advance"`` (paper) or ``"hole"`` (published code).

    Returns:
        The :class:`Bypass` handle (also a context manager that removes it).
    """
    config = BypassConfig(gate_layer, tuple(cache_layers), threshold, kv)
    return Bypass(model, config)
