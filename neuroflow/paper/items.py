"""One table or figure of the paper (:class:`PaperItem`) and what reproducing it can need.

The items themselves are listed by group in :mod:`~neuroflow.paper.items_accuracy`,
:mod:`~neuroflow.paper.items_speed` and :mod:`~neuroflow.paper.items_llm`; the registry in
paper order is :data:`neuroflow.paper.coverage.ITEMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from neuroflow.paper.collect import Collected

NO_RESULTS = "no results given"
OFFLINE = "reproduced offline (counterpart)"

# What the paper's own setting needs (an item's ``needs``).
UCF = "needs UCF-101 and hub weights"
GPU = "needs a GPU and hub weights"
LM = "needs the hub Phi-3-mini weights"
WIKITEXT = "needs the hub Phi-3-mini weights and WikiText-103"
# Items whose ``needs`` starts so have no "reproduced offline" status, whatever was run.
NOT_REPRODUCIBLE = ("not reproducible", "not in the paper")


@dataclass(frozen=True)
class PaperItem:
    """One table or figure of the paper.

    Attributes:
        id: ``T1`` .. ``T22``, ``F1`` .. ``F3`` (``X1``, ``X2``: rows beyond the paper).
        title: What it shows.
        paper: The paper's headline numbers (short text).
        command: The command that reproduces it with the hub model (and UCF-101 where used).
        offline: The offline counterpart (mini SigLIP, moving glyphs, random-weight timing).
        needs: What the paper's own setting needs, or ``not reproducible: <why>``.
        ours: Our numbers from the collected runs (None: no run of the kind it reads).
    """

    id: str
    title: str
    paper: str
    command: str
    offline: str
    needs: str
    ours: Callable[[Collected], str | None]

    def our_numbers(self, collected: Collected) -> str:
        """Our numbers as a short text, or :data:`NO_RESULTS`."""
        return self.ours(collected) or NO_RESULTS

    def status(self, collected: Collected) -> str:
        """Where the item stands: reproducible offline (and run), or what it needs."""
        if self.needs.startswith(NOT_REPRODUCIBLE):
            return self.needs
        if self.ours(collected):
            return f"{OFFLINE}; the paper's setting {self.needs}"
        return self.needs
