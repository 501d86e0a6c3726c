"""Similarity-gated attention bypass for causal LMs (the paper's language-model ablation).

::

    from neuroflow.llm import apply_bypass, load_causal_lm

    model, tokenizer = load_causal_lm("mini_lm")          # or "tiny-gpt2", a dir, a hub id
    bypass = apply_bypass(model, gate_layer=1, cache_layers=[6], threshold=0.65)
    model.generate(**tokenizer("def f(x):", return_tensors="pt"), max_new_tokens=32)
    print(bypass.stats())

The names load on first use, so ``neuroflow.llm.report`` (tables only, read by
``paper/make_tables.py``) does not pull in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Bypass": "bypass",
    "BypassConfig": "bypass",
    "apply_bypass": "bypass",
    "load_causal_lm": "loading",
    "greedy_decode": "metrics",
    "perplexity": "metrics",
    "teacher_forced_nll": "metrics",
    "token_drift": "metrics",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neuroflow.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(f"neuroflow.llm.{_EXPORTS[name]}"), name)
