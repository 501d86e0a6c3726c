"""Per-layer attention-output similarity between consecutive decode steps (paper Table 20).

The paper picks its gate and cache layers from this profile: a volatile layer gates, a stable
one is bypassed. :func:`attention_similarity` hooks every layer's attention module, decodes
greedily, and records ``cos(z_l^t, z_l^{t-1})`` of the newest token's attention output.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from neuroflow.llm.families import family_of
from neuroflow.llm.metrics import greedy_decode


class _LayerTrace:
    """Forward hook state of one layer: the previous token's output and every similarity."""

    def __init__(self) -> None:
        self.previous: torch.Tensor | None = None
        self.similarities: list[torch.Tensor] = []

    def __call__(self, module, args, output) -> None:
        current = output[0][:, -1].detach().float()
        if output[0].shape[1] == 1 and self.previous is not None:  # a decode step
            self.similarities.append(F.cosine_similarity(current, self.previous, dim=-1))
        self.previous = current


def attention_similarity(
    model: nn.Module, prompts: Iterable[torch.Tensor], steps: int
) -> dict[int, torch.Tensor]:
    """Similarity of each layer's attention output across consecutive decode steps.

    Args:
        model: An HF causal LM of a supported family (no bypass installed).
        prompts: Token-id prompts; each is prefilled, then decoded greedily for ``steps``.
        steps: Decode steps per prompt.

    Returns:
        ``{layer: [prompts * (steps - 1)] similarities}``: one per decode step, the first
        compared with the prompt's last token.
    """
    family = family_of(model)
    layers = family.decoder_layers(model)
    traces = [_LayerTrace() for _ in layers]
    hooks = [
        getattr(layer, family.attention).register_forward_hook(t)
        for layer, t in zip(layers, traces, strict=True)
    ]
    try:
        for prompt in prompts:
            for trace in traces:
                trace.previous = None
            greedy_decode(model, prompt, steps)
    finally:
        for hook in hooks:
            hook.remove()
    return {i: torch.cat(t.similarities) for i, t in enumerate(traces)}


def similarity_rows(profile: dict[int, torch.Tensor]) -> list[dict]:
    """One table row per layer: mean and percentiles of its similarity."""
    rows = []
    for layer, sims in profile.items():
        p10, p50, p90 = torch.quantile(sims, torch.tensor([0.1, 0.5, 0.9])).tolist()
        rows.append(
            {
                "layer": layer,
                "mean": float(sims.mean()),
                "p10": p10,
                "p50": p50,
                "p90": p90,
                "steps": int(sims.numel()),
            }
        )
    return rows
