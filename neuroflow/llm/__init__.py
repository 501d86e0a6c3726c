"""Similarity-gated attention bypass for causal LMs (the paper's language-model ablation).

::

    from neuroflow.llm import apply_bypass, load_causal_lm

    model, tokenizer = load_causal_lm("mini_lm")          # or "tiny-gpt2", a dir, a hub id
    bypass = apply_bypass(model, gate_layer=1, cache_layers=[6], threshold=0.65)
    model.generate(**tokenizer("def f(x):", return_tensors="pt"), max_new_tokens=32)
    print(bypass.stats())
"""

from neuroflow.llm.bypass import Bypass, BypassConfig, apply_bypass
from neuroflow.llm.loading import load_causal_lm
from neuroflow.llm.metrics import greedy_decode, perplexity, teacher_forced_nll, token_drift

__all__ = [
    "Bypass",
    "BypassConfig",
    "apply_bypass",
    "greedy_decode",
    "load_causal_lm",
    "perplexity",
    "teacher_forced_nll",
    "token_drift",
]
