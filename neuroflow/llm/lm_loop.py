"""Model construction, the plain-torch training loop, perplexity and greedy samples.

Kept free of any trainer framework: AdamW with linear warm-up and a cosine decay, a fixed
seed for initialisation and for the random contiguous windows each step draws.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import Phi3Config, Phi3ForCausalLM, PreTrainedTokenizerBase


@dataclass(frozen=True)
class LMSize:
    """Phi-3 style decoder sizes.

    Attributes:
        layers: Decoder layers (enough for meaningful gate / cache layer pairs).
        hidden: Residual width.
        heads: Attention heads (key/value heads equal: plain multi-head attention).
        intermediate: Gated-MLP width.
        context: Context length (also ``max_position_embeddings``).
        attn_implementation: ``sdpa`` (faster on CPU) or ``eager``.
    """

    layers: int = 8
    hidden: int = 160
    heads: int = 5
    intermediate: int = 448
    context: int = 256
    attn_implementation: str = "sdpa"


@dataclass(frozen=True)
class Optim:
    """Optimisation schedule: ``steps`` of ``batch`` windows, AdamW, warm-up then cosine."""

    steps: int = 800
    batch: int = 10
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    log_every: int = 25


def build_model(size: LMSize, vocab_size: int, eos_id: int) -> Phi3ForCausalLM:
    """A randomly initialised ``Phi3ForCausalLM`` with tied input/output embeddings."""
    config = Phi3Config(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.intermediate,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=size.context,
        original_max_position_embeddings=size.context,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        attn_implementation=size.attn_implementation,
    )
    return Phi3ForCausalLM(config)


def lr_factor(step: int, optim: Optim) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine down to ``min_lr_ratio``."""
    if step < optim.warmup:
        return (step + 1) / optim.warmup
    progress = (step - optim.warmup) / max(1, optim.steps - optim.warmup)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return optim.min_lr_ratio + (1 - optim.min_lr_ratio) * cosine


def sample_batch(
    streams: Sequence[torch.Tensor], step: int, batch: int, context: int, gen: torch.Generator
) -> torch.Tensor:
    """``[batch, context]`` random windows; rows cycle over the streams (one per domain).

    Cycling rather than sampling by size keeps the domains equally represented although
    they tokenize to different lengths (numeric CSV costs about twice the tokens per char).
    """
    rows = []
    for i in range(batch):
        stream = streams[(step * batch + i) % len(streams)]
        start = int(torch.randint(0, len(stream) - context, (1,), generator=gen))
        rows.append(stream[start : start + context])
    return torch.stack(rows)


def _optimizer(model: torch.nn.Module, optim: Optim) -> torch.optim.AdamW:
    # Decay matrices only: norms' gains and biases are not regularised.
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": optim.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=optim.lr, betas=(0.9, 0.95))


def train_lm(
    model: Phi3ForCausalLM,
    streams: Sequence[torch.Tensor],
    optim: Optim,
    seed: int,
    log: Callable[[dict], None] = lambda record: None,
) -> list[dict]:
    """Train ``model`` in place on random windows of ``streams``; returns the loss curve.

    Args:
        model: The model to train.
        streams: 1-D token-id tensors (one per domain), each longer than the context.
        optim: Schedule and optimiser settings.
        seed: Seed of the window sampling.
        log: Called with every curve record (step, mean loss since the last record, lr,
            tokens per second, elapsed seconds).

    Returns:
        The curve records.
    """
    context = model.config.max_position_embeddings
    opt = _optimizer(model, optim)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, optim))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    curve, losses, start, last = [], [], time.perf_counter(), time.perf_counter()
    for step in range(optim.steps):
        ids = sample_batch(streams, step, optim.batch, context, gen)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % optim.log_every == 0 or step + 1 == optim.steps:
            now = time.perf_counter()
            record = {
                "step": step + 1,
                "loss": sum(losses) / len(losses),
                "lr": sched.get_last_lr()[0],
                "tokens_per_s": len(losses) * ids.numel() / (now - last),
                "elapsed_s": now - start,
            }
            curve.append(record)
            log(record)
            losses, last = [], now
    model.eval()
    return curve


@torch.no_grad()
def windowed_perplexity(
    model: Phi3ForCausalLM, ids: torch.Tensor, context: int, batch: int = 8
) -> float:
    """Teacher-forced perplexity of the 1-D ``ids`` over non-overlapping windows.

    Each window of ``context`` tokens (the last one may be shorter) is one full-sequence
    forward; every token but a window's first is predicted, and the mean negative
    log-likelihood over all predicted tokens is exponentiated.
    """
    model.eval()
    windows = [ids[i : i + context] for i in range(0, len(ids) - 1, context)]
    windows = [w for w in windows if len(w) > 1]
    nll, count = 0.0, 0
    for i in range(0, len(windows), batch):
        chunk = windows[i : i + batch]
        for group in _same_length(chunk):
            x = torch.stack(group)
            logits = model(input_ids=x).logits[:, :-1].float()
            target = x[:, 1:]
            nll += float(F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum"))
            count += target.numel()
    return math.exp(nll / count)


def _same_length(windows: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    groups: dict[int, list[torch.Tensor]] = {}
    for w in windows:
        groups.setdefault(len(w), []).append(w)
    return list(groups.values())


@torch.no_grad()
def greedy(model: Phi3ForCausalLM, tok: PreTrainedTokenizerBase, prompt: str, new: int) -> str:
    """The greedy continuation (without the prompt) of ``prompt`` for ``new`` tokens."""
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    room = model.config.max_position_embeddings - ids.shape[1]
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max(1, min(new, room)),
        do_sample=False,
        pad_token_id=tok.pad_token_id,
    )
    return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=False)
