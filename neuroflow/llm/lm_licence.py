"""Licence of an installed distribution, read from its metadata, and a permissive-only check.

The corpus keeps a packaged file only when its distribution's licence is known and
permissive, so the shipped model's training data can be redistributed with it. Order of
trust: the SPDX ``License-Expression`` field, then trove classifiers (short and
machine-readable), then a short ``License`` field; a long ``License`` field holding the
full licence text is only matched on its first line.
"""

from __future__ import annotations

import re
from importlib.metadata import Distribution

# SPDX ids (lower-cased) whose terms allow redistribution of the data with a model.
PERMISSIVE = frozenset(
    {
        "mit",
        "0bsd",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "apache-2.0",
        "psf-2.0",
        "isc",
        "zlib",
        "cc0-1.0",
        "unlicense",
        "bsl-1.0",
        "hpnd",
    }
)

_CLASSIFIERS = {
    "MIT License": "MIT",
    "BSD License": "BSD",
    "Apache Software License": "Apache-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "ISC License (ISCL)": "ISC",
    "zlib/libpng License": "Zlib",
    "The Unlicense (Unlicense)": "Unlicense",
}

_SHORT_FIELD = [
    (re.compile(r"^\s*MIT\b", re.I), "MIT"),
    (re.compile(r"^\s*BSD[- ]?3", re.I), "BSD-3-Clause"),
    (re.compile(r"^\s*BSD[- ]?2", re.I), "BSD-2-Clause"),
    (re.compile(r"^\s*(new |modified )?BSD\b", re.I), "BSD"),
    (re.compile(r"^\s*Apache[- ]?(Software License )?,? ?(v|version )?2", re.I), "Apache-2.0"),
    (re.compile(r"^\s*(PSF|Python Software Foundation)", re.I), "PSF-2.0"),
    (re.compile(r"^\s*ISC\b", re.I), "ISC"),
]


def distribution_licence(dist: Distribution) -> str | None:
    """The licence of ``dist`` as an SPDX-like string, or None when it cannot be told."""
    meta = dist.metadata
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    found = []
    for classifier in meta.get_all("Classifier") or []:
        name = classifier.rsplit("::", 1)[-1].strip()
        if classifier.startswith("License ::") and name in _CLASSIFIERS:
            found.append(_CLASSIFIERS[name])
    if found:
        return " AND ".join(sorted(set(found)))
    first_line = (meta.get("License") or "").strip().split("\n", 1)[0]
    for pattern, spdx in _SHORT_FIELD:
        if pattern.search(first_line):
            return spdx
    return None


def is_permissive(licence: str | None) -> bool:
    """True when every term of the SPDX expression ``licence`` is in :data:`PERMISSIVE`.

    ``AND`` and ``OR`` both require all terms to be permissive (conservative for ``OR``);
    ``WITH`` exceptions only add permissions, so the base licence decides.
    """
    if not licence:
        return False
    terms = re.split(r"\s+(?:AND|OR)\s+", licence.replace("(", " ").replace(")", " ").strip())
    bases = [term.split(" WITH ")[0].strip().lower() for term in terms]
    return all(base in PERMISSIVE for base in bases)
