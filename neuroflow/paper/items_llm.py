"""The language-model items: the attention bypass on Phi-3-mini (T20-T22).

The offline counterparts run ``neuroflow-llm`` on the project-trained mini LM.
"""

from __future__ import annotations

from neuroflow.paper import ours_llm as ours
from neuroflow.paper.items import LM, WIKITEXT, PaperItem

LLM_ITEMS: tuple[PaperItem, ...] = (
    PaperItem(
        "T20",
        "Phi-3-mini per-layer attention-output similarity",
        "layer 0 0.941, 1 0.519 (gate), 8 0.587, 16 0.644, 24 0.646, 31 0.862",
        "neuroflow-llm experiment=t20_llm_layer_similarity",
        "neuroflow-llm 'tables=[similarity]'",
        LM,
        ours.llm_similarity,
    ),
    PaperItem(
        "T21",
        "WikiText-103 perplexity safety",
        "dense 3.886; |dPPL| < 0.04 for theta >= 0.65; L1->L0 theta=0.60: 265.93 (99.8% bypass)",
        "neuroflow-llm experiment=t21_llm_perplexity",
        "neuroflow-llm 'tables=[perplexity]'",
        WIKITEXT,
        ours.llm_perplexity,
    ),
    PaperItem(
        "T22",
        "PPL-drift dissociation",
        "theta=0.65: code 0% drift, structured 12%, prose 66-83% at dPPL +0.007 to +0.025",
        "neuroflow-llm experiment=t22_llm_drift",
        "neuroflow-llm 'tables=[drift,latency]'",
        LM,
        ours.llm_drift,
    ),
)
