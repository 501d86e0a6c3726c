"""UCF-101 class names (shipped data) and their prompt-text form."""

from __future__ import annotations

import re
from collections.abc import Iterable
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


def check_unique_names(entries: Iterable[tuple[int, str]], source: str) -> None:
    """Refuse a class list that names one class twice.

    Names are compared case-insensitively, as clip paths are matched to classes that way;
    a repeat would otherwise fold two labels into one without a word.

    Args:
        entries: ``(line number, class name)`` pairs, in file order.
        source: The file the names come from, for the message.

    Raises:
        ValueError: Naming the file, the line of the repeat, the name and its first line.
    """
    first: dict[str, int] = {}
    for line, name in entries:
        key = name.lower()
        if key in first:
            raise ValueError(
                f"{source}, line {line}: class name {name!r} is duplicated "
                f"(first on line {first[key]})"
            )
        first[key] = line


@lru_cache(maxsize=1)
def ucf101_class_names() -> tuple[str, ...]:
    """The 101 official UCF-101 class names in ``classInd.txt`` order (label 0 first)."""
    text = resources.files("neuroflow.data").joinpath(CLASS_LIST_FILE).read_text("utf-8")
    entries = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    check_unique_names(entries, f"neuroflow/data/{CLASS_LIST_FILE}")
    return tuple(name for _, name in entries)


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
