"""Language-model metrics of the bypass ablation: perplexity, drift, entropy, decode latency.

Every function drives the model with a plain token-by-token loop over an HF ``DynamicCache``
(the bypass acts on decode steps only), so dense and bypass are measured the same way. Pass
the model with or without a :class:`~neuroflow.llm.bypass.Bypass` installed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn
from transformers import DynamicCache


@dataclass(frozen=True)
class Generation:
    """A greedy continuation and the model's uncertainty at each generated position.

    Attributes:
        tokens: ``[steps]`` generated token ids (the prompt excluded).
        entropy: ``[steps]`` entropy (nats) of the next-token distribution that chose each.
    """

    tokens: torch.Tensor
    entropy: torch.Tensor


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


def _on_model(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    return ids.to(next(model.parameters()).device)


def _step(model: nn.Module, ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    return model(input_ids=ids, cache=cache, use_cache=True).logits[:, -1]


@torch.inference_mode()
def greedy_decode(model: nn.Module, prompt: torch.Tensor, steps: int) -> Generation:
    """Greedy decoding of ``steps`` tokens after ``prompt`` (``[T]`` or ``[1, T]`` ids).

    The prompt is one prefill (it picks the first token); each later token comes from one
    decode step on the model's own history, so ``steps - 1`` decode steps run.
    """
    ids = _on_model(model, prompt.view(1, -1))
    cache = DynamicCache(config=model.config)
    logits = _step(model, ids, cache)
    tokens, entropy = [], []
    for i in range(steps):
        entropy.append(_entropy(logits)[0])
        token = logits.argmax(-1, keepdim=True)
        tokens.append(token[0, 0])
        if i + 1 < steps:  # the last token needs no forward of its own (as in HF generate)
            logits = _step(model, token, cache)
    return Generation(torch.stack(tokens), torch.stack(entropy))


@torch.inference_mode()
def teacher_forced_nll(model: nn.Module, ids: torch.Tensor, warmup: int = 64) -> torch.Tensor:
    """Per-token negative log-likelihood of ``ids[warmup:]``, fed one token at a time.

    ``ids[:warmup]`` is one dense prefill (context only, not scored); every later token is fed
    as one decode step, so a bypass acts exactly as in generation. Scores token ``i`` from the
    logits after token ``i - 1`` (each token is fed once: no duplicated first token).

    Returns:
        ``[len(ids) - warmup]`` NLL in nats.
    """
    ids = _on_model(model, ids.view(-1))
    if not 1 <= warmup < len(ids):
        raise ValueError(
            f"warmup must be in [1, {len(ids) - 1}] for {len(ids)} tokens, got {warmup}"
        )
    cache = DynamicCache(config=model.config)
    logits = _step(model, ids[:warmup].view(1, -1), cache)
    nll = []
    for i in range(warmup, len(ids)):
        nll.append(-torch.log_softmax(logits[0].float(), -1)[ids[i]])
        if i + 1 < len(ids):
            logits = _step(model, ids[i : i + 1].view(1, 1), cache)
    return torch.stack(nll)


def perplexity(nll: torch.Tensor) -> float:
    """``exp(mean NLL)``."""
    return math.exp(float(nll.double().mean()))


def token_drift(reference: torch.Tensor, other: torch.Tensor) -> dict:
    """How two continuations of the same prompt differ, position by position.

    Returns:
        ``drift``: share of positions whose tokens differ (one early divergence makes the later
        positions differ too, as in the paper); ``first_divergence``: index of the first
        differing position (None when identical); ``positions``: the compared length.
    """
    if reference.shape != other.shape:
        raise ValueError(f"continuations differ in length: {reference.shape} vs {other.shape}")
    differs = reference != other
    first = int(differs.nonzero()[0, 0]) if bool(differs.any()) else None
    return {
        "drift": float(differs.float().mean()),
        "first_divergence": first,
        "positions": int(reference.numel()),
    }


@torch.inference_mode()
def decode_latency(model: nn.Module, prompt: torch.Tensor, steps: int) -> float:
    """Milliseconds per decode step of one greedy run (prefill excluded)."""
    ids = _on_model(model, prompt.view(1, -1))
    cache = DynamicCache(config=model.config)
    token = _step(model, ids, cache).argmax(-1, keepdim=True)
    sync = torch.cuda.synchronize if token.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        token = _step(model, token, cache).argmax(-1, keepdim=True)
    sync()
    return (time.perf_counter() - start) * 1e3 / steps
