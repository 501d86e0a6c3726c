"""Captions and the word-level vocabulary of the mini SigLIP.

The vocabulary is every word of every template and class name, plus ``[PAD]`` and
``[UNK]``. The tokenizer itself (a ``tokenizers`` word-level model wrapped as a
``PreTrainedTokenizerFast``) is built by :func:`neuroflow.models.mini_siglip.build_word_tokenizer`;
this module supplies the glyph captions it is built from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from transformers import PreTrainedTokenizerFast

from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.models.mini_siglip import PAD, UNK, build_word_tokenizer, word_vocabulary

__all__ = [
    "PAD",
    "TEMPLATES",
    "UNK",
    "build_tokenizer",
    "caption",
    "longest_caption",
    "random_captions",
    "vocabulary",
]

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
    return word_vocabulary(text.format("") for text in [*templates, *class_names])


def build_tokenizer(max_length: int, words: Sequence[str] | None = None) -> PreTrainedTokenizerFast:
    """A lowercase, whitespace/punctuation-split word-level fast tokenizer.

    Args:
        max_length: ``model_max_length``; ``padding="max_length"`` pads to it.
        words: Vocabulary (default: :func:`vocabulary`); must start with ``[PAD]``, ``[UNK]``.
    """
    return build_word_tokenizer(vocabulary() if words is None else words, max_length)


def longest_caption(
    tokenizer: PreTrainedTokenizerFast, class_names: Sequence[str] = CLASS_NAMES
) -> int:
    """Token count of the longest caption (must stay below ``max_length``: the last slot
    has to be a pad slot for SigLIP's last-position pooling)."""
    texts = [
        caption(y, t, class_names) for y in range(len(class_names)) for t in range(len(TEMPLATES))
    ]
    return max(len(ids) for ids in tokenizer(texts)["input_ids"])
