"""UCF-101 class names (shipped data) and their prompt-text form."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

CLASS_LIST_FILE = "ucf101_classes.txt"
# Splits CamelCase into words, keeping acronyms together ("TVShow" -> "TV", "Show").
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# Whole-name rewrites where the literal split reads badly as an English prompt.
NAME_OVERRIDES = {
    "BreastStroke": "breaststroke",
    "RockClimbingIndoor": "indoor rock climbing",
    "Shotput": "shot put",
    "SkateBoarding": "skateboarding",
    "Skijet": "jet ski",
    "SkyDiving": "skydiving",
}
# Single-word rewrites ("HandstandPushups" and "WallPushups" spell it as one word, "PushUps"
# as two; all become "push ups").
WORD_OVERRIDES = {"pushups": "push ups"}


@lru_cache(maxsize=1)
def ucf101_class_names() -> tuple[str, ...]:
    """The 101 official UCF-101 class names in ``classInd.txt`` order (label 0 first)."""
    text = resources.files("neuroflow.data").joinpath(CLASS_LIST_FILE).read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def split_words(name: str) -> list[str]:
    """Split a CamelCase / snake_case / spaced name into words.

    Examples: ``"ApplyEyeMakeup"`` -> ``["Apply", "Eye", "Makeup"]``,
    ``"YoYo"`` -> ``["Yo", "Yo"]``, ``"TVShow"`` -> ``["TV", "Show"]``.
    """
    return [w for part in re.split(r"[\s_\-]+", name) for w in _WORDS.findall(part)]


def prettify_class_name(name: str) -> str:
    """Turn a class name into lower-case prompt text.

    ``"ApplyEyeMakeup"`` -> ``"apply eye makeup"``, ``"YoYo"`` -> ``"yo yo"``,
    ``"PlayingDaf"`` -> ``"playing daf"``, ``"Skijet"`` -> ``"jet ski"``.

    Raises:
        ValueError: ``name`` holds no letters or digits.
    """
    if name in NAME_OVERRIDES:
        return NAME_OVERRIDES[name]
    words = [WORD_OVERRIDES.get(w.lower(), w.lower()) for w in split_words(name)]
    if not words:
        raise ValueError(f"class name {name!r} has no words")
    return " ".join(words)
