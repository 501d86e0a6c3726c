"""Captions and the word-level tokenizer of the mini SigLIP.

The vocabulary is every word of every template and class name, plus ``[PAD]`` and
``[UNK]``. It is built with the ``tokenizers`` library and wrapped as a
``PreTrainedTokenizerFast``, which ``save_pretrained``/``AutoTokenizer`` round-trip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from neuroflow.glyphs.render import CLASS_NAMES

TEMPLATES = (
    "a photo of the digit {}.",
    "the number {}.",
    "a picture of the number {}.",
    "the digit {}.",
    "a {} on a background.",
    "an image of the digit {}.",
    "a photo of a {}.",
    "the numeral {}.",
)
PAD, UNK = "[PAD]", "[UNK]"


def caption(label: int, template: int = 0, class_names: Sequence[str] = CLASS_NAMES) -> str:
    """The caption of class ``label`` under template number ``template``."""
    return TEMPLATES[template % len(TEMPLATES)].format(class_names[label])


def random_captions(rng: np.random.Generator, labels: Sequence[int]) -> list[str]:
    """One caption per label, each from a random template."""
    picks = rng.integers(len(TEMPLATES), size=len(labels))
    return [caption(int(y), int(t)) for y, t in zip(labels, picks, strict=True)]


def vocabulary(
    templates: Sequence[str] = TEMPLATES, class_names: Sequence[str] = CLASS_NAMES
) -> list[str]:
    """Special tokens, then every distinct word of the templates and class names, sorted."""
    words: set[str] = set()
    pre = pre_tokenizers.Whitespace()
    for text in [*templates, *class_names]:
        words.update(w for w, _ in pre.pre_tokenize_str(text.format("").lower()))
    return [PAD, UNK, *sorted(words)]


def build_tokenizer(max_length: int, words: Sequence[str] | None = None) -> PreTrainedTokenizerFast:
    """A lowercase, whitespace/punctuation-split word-level fast tokenizer.

    Args:
        max_length: ``model_max_length``; ``padding="max_length"`` pads to it.
        words: Vocabulary (default: :func:`vocabulary`); must start with ``[PAD]``, ``[UNK]``.
    """
    words = list(words) if words is not None else vocabulary()
    if words[:2] != [PAD, UNK]:
        raise ValueError("the vocabulary must start with [PAD] and [UNK]")
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, unk_token=UNK, model_max_length=max_length
    )


def longest_caption(
    tokenizer: PreTrainedTokenizerFast, class_names: Sequence[str] = CLASS_NAMES
) -> int:
    """Token count of the longest caption (must stay below ``max_length``: the last slot
    has to be a pad slot for SigLIP's last-position pooling)."""
    texts = [
        caption(y, t, class_names) for y in range(len(class_names)) for t in range(len(TEMPLATES))
    ]
    return max(len(ids) for ids in tokenizer(texts)["input_ids"])
