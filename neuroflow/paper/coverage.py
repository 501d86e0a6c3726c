"""The paper's 22 tables and 3 figures (plus the gate-quality rows) in paper order: what each
one reports, the command that reproduces it with the hub models and UCF-101, the offline
counterpart on the mini SigLIP / mini LM, and where our numbers come from.

The paper's numbers are short summaries of the paper's tables and figures (facts only). Our
numbers are read from the collected runs by each item's ``ours`` function (in
:mod:`neuroflow.paper.ours_accuracy`, :mod:`~neuroflow.paper.ours_speed` and
:mod:`~neuroflow.paper.ours_llm`); ``None`` means no run of the kind it reads was given.
"""

from __future__ import annotations

from neuroflow.paper.items import PaperItem
from neuroflow.paper.items_accuracy import ACCURACY_ITEMS
from neuroflow.paper.items_llm import LLM_ITEMS
from neuroflow.paper.items_speed import SPEED_ITEMS

# Tables, then figures, then the rows beyond the paper; each by number.
_KIND_ORDER = ("T", "F", "X")


def _paper_order(entry: PaperItem) -> tuple[int, int]:
    return _KIND_ORDER.index(entry.id[0]), int(entry.id[1:])


ITEMS: tuple[PaperItem, ...] = tuple(
    sorted((*ACCURACY_ITEMS, *SPEED_ITEMS, *LLM_ITEMS), key=_paper_order)
)

PAPER_IDS = tuple(i.id for i in ITEMS if not i.id.startswith("X"))


def item(item_id: str) -> PaperItem:
    """The item with this id (``"T4"``, ``"F3"``, ...).

    Raises:
        KeyError: No such item.
    """
    for entry in ITEMS:
        if entry.id == item_id:
            return entry
    raise KeyError(f"no paper item {item_id!r}; choose from {[i.id for i in ITEMS]}")
