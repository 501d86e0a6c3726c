"""The texts of the bypass ablation: perplexity texts and drift prompts per domain.

Offline (the default) they come from the mini LM's shipped held-out files
(``neuroflow/assets/mini_lm/heldout/{code,structured,prose}.txt``, never trained on). With
``source="wikitext"`` the perplexity text is WikiText-103 (raw v1, test split, non-blank rows
joined by spaces, as the paper's script does) loaded through ``datasets``; when it cannot be
loaded that is an error, never a silent substitute. Drift prompts are the paper's three
(one per domain) plus ``prompts_per_domain`` windows cut from the held-out text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from neuroflow.llm.loading import MINI_LM_DIR

DOMAINS = ("code", "structured", "prose")
PAPER_PROMPTS = {  # the published script's drift prompts (paper-digest T22)
    "code": (
        "def merge_sort(arr):\n    if len(arr) <= 1:\n        return arr\n    mid = len(arr) // 2\n"
    ),
    "structured": '{"name": "Alice", "age": 30, "city": "Boston",',
    "prose": "The Amazon rainforest spans nine countries and contains more than half of the "
    "world's remaining tropical forests.",
}
HELDOUT_DIR = MINI_LM_DIR / "heldout"


class TextNotAvailableError(RuntimeError):
    """A text source of the study cannot be read (the message says what to do)."""


def heldout_text(domain: str, directory: str | Path = HELDOUT_DIR) -> str:
    """The held-out text of ``domain`` (``code``, ``structured``, ``prose``)."""
    path = Path(directory) / f"{domain}.txt"
    if not path.is_file():
        raise TextNotAvailableError(
            f"no held-out text {path}; pass heldout_dir= a folder with "
            f"{', '.join(d + '.txt' for d in DOMAINS)} (neuroflow-train-lm writes one)"
        )
    return path.read_text()


def wikitext_text() -> str:
    """WikiText-103 raw v1, test split, non-blank rows joined by spaces.

    Raises:
        TextNotAvailableError: The dataset is neither cached nor downloadable.
    """
    try:
        from datasets import load_dataset

        rows = load_dataset("wikitext", "wikitext-103-raw-v1", split="test")["text"]
    except Exception as err:  # noqa: BLE001 (datasets raises many kinds offline)
        raise TextNotAvailableError(
            "could not load WikiText-103 (datasets: wikitext / wikitext-103-raw-v1, test): it "
            "is not cached and the hub cannot be reached; run once with network, or use the "
            f"shipped held-out texts (ppl_source=heldout)\ncause: {type(err).__name__}: {err}"
        ) from err
    return " ".join(r.strip() for r in rows if r.strip())


@dataclass
class StudyTexts:
    """Tokenised texts: perplexity ids and drift prompts per domain.

    Attributes:
        ppl: ``{domain: [T] ids}`` perplexity texts.
        prompts: ``{domain: [ids, ...]}`` drift prompts.
        latency_prompt: The prompt of the latency runs (the paper's code prompt).
    """

    ppl: dict[str, torch.Tensor]
    prompts: dict[str, list[torch.Tensor]]
    latency_prompt: torch.Tensor

    @property
    def ppl_domains(self) -> list[str]:
        """Names of the perplexity texts."""
        return list(self.ppl)

    @property
    def prompt_domains(self) -> list[str]:
        """Domains with drift prompts."""
        return list(self.prompts)

    def ppl_ids(self, domain: str, tokens: int) -> torch.Tensor:
        """The first ``tokens`` ids of ``domain``'s perplexity text."""
        ids = self.ppl[domain]
        if len(ids) < tokens:
            raise ValueError(
                f"the {domain} text has {len(ids)} tokens, fewer than ppl_tokens={tokens}"
            )
        return ids[:tokens]


def _ids(tokenizer, text: str) -> torch.Tensor:
    # verbose=False: the texts are longer than the model context on purpose (windows, prompts)
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    return torch.tensor(ids, dtype=torch.long)


@dataclass
class TextSettings:
    """Where the study's texts come from (the ``text`` node of ``neuroflow-llm``).

    Attributes:
        source: ``heldout`` (three domains, offline) or ``wikitext`` (perplexity on
            WikiText-103 as domain ``wikitext``; drift prompts still from the held-out files).
        heldout_dir: Folder with ``{code,structured,prose}.txt`` (None: the mini LM's).
        prompts_per_domain: Windows cut from each held-out text as extra drift prompts.
        prompt_tokens: Length of those windows.
        paper_prompts: Also use the paper's prompt of each domain.
    """

    source: str = "heldout"
    heldout_dir: str | None = None
    prompts_per_domain: int = 2
    prompt_tokens: int = 32
    paper_prompts: bool = True


def load_texts(tokenizer, settings: TextSettings | None = None) -> StudyTexts:
    """The study's texts (see :class:`TextSettings`), tokenised with ``tokenizer``."""
    s = settings or TextSettings()
    if s.source not in ("heldout", "wikitext"):
        raise ValueError(f"text.source must be 'heldout' or 'wikitext', got {s.source!r}")
    folder = s.heldout_dir or HELDOUT_DIR
    held = {d: _ids(tokenizer, heldout_text(d, folder)) for d in DOMAINS}
    prompts = {d: _windows(held[d], s.prompts_per_domain, s.prompt_tokens) for d in DOMAINS}
    if s.paper_prompts:
        prompts = {d: [_ids(tokenizer, PAPER_PROMPTS[d]), *p] for d, p in prompts.items()}
    ppl = held if s.source == "heldout" else {"wikitext": _ids(tokenizer, wikitext_text())}
    return StudyTexts(ppl, prompts, _ids(tokenizer, PAPER_PROMPTS["code"]))


def _windows(ids: torch.Tensor, count: int, length: int) -> list[torch.Tensor]:
    """``count`` windows of ``length`` ids, evenly spaced over the second half of ``ids``.

    The second half: the perplexity text is the start of the file, so drift prompts do not
    repeat it.
    """
    if count == 0:
        return []
    start, stop = len(ids) // 2, len(ids) - length
    if stop <= start:
        raise ValueError(f"held-out text of {len(ids)} tokens is too short for {count} prompts")
    offsets = torch.linspace(start, stop, count).long().tolist()
    return [ids[o : o + length] for o in offsets]
