"""Files that go next to the saved mini LM: held-out samples, metadata and licences."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from neuroflow.llm.corpus import DOMAINS, Corpus

META_NAME = "neuroflow_meta.json"
HELDOUT_DIR = "heldout"


def heldout_text(corpus: Corpus, domain: str, max_chars: int) -> str:
    """Held-out documents of ``domain`` joined by blank lines, whole documents only.

    The first document is always included (cut at a line break if it is longer than
    ``max_chars``), so the sample is never empty while the domain has held-out text.
    """
    parts, used = [], 0
    for doc in corpus.select(domain, heldout=True):
        text = doc.text
        if not parts and len(text) > max_chars:
            text = text[:max_chars].rsplit("\n", 1)[0] + "\n"
        if used + len(text) > max_chars and parts:
            break
        parts.append(text)
        used += len(text) + 2
    return "\n\n".join(parts)


def write_heldout(corpus: Corpus, out_dir: Path, max_chars: int) -> dict[str, str]:
    """Write ``heldout/<domain>.txt`` for every domain; returns domain → text."""
    folder = out_dir / HELDOUT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    texts = {}
    for domain in DOMAINS:
        texts[domain] = heldout_text(corpus, domain, max_chars)
        (folder / f"{domain}.txt").write_text(texts[domain], encoding="utf-8")
    return texts


def read_heldout(model_dir: str | Path) -> dict[str, str]:
    """The held-out samples a model directory ships, domain → text."""
    folder = Path(model_dir) / HELDOUT_DIR
    return {d: (folder / f"{d}.txt").read_text(encoding="utf-8") for d in DOMAINS}


def write_licences(corpus: Corpus, out_dir: Path) -> None:
    """``LICENSES.md``: a per-distribution table, then every source file and its licence."""
    by_dist: dict[tuple[str, str], list[str]] = defaultdict(list)
    for doc in corpus.documents:
        by_dist[(doc.distribution, doc.licence)].append(doc.source)
    lines = [
        "# Licences of the mini LM's training and held-out text",
        "",
        "All text was read from files shipped by the local Python installation and its",
        "installed distributions; each distribution's licence comes from its metadata.",
        "",
        "| distribution | licence | documents |",
        "|---|---|---|",
    ]
    lines += [f"| {d} | {lic} | {len(s)} |" for (d, lic), s in sorted(by_dist.items())]
    if corpus.rejected:
        lines += ["", "Refused distributions:", ""]
        lines += [f"- {name}: {why}" for name, why in sorted(corpus.rejected.items())]
    lines += ["", "## Source documents", ""]
    for (dist, lic), sources in sorted(by_dist.items()):
        lines += [f"### {dist} ({lic})", ""] + [f"- `{s}`" for s in sorted(sources)] + [""]
    (out_dir / "LICENSES.md").write_text("\n".join(lines), encoding="utf-8")


def write_meta(meta: dict, out_dir: Path) -> None:
    """Write the metadata JSON."""
    (out_dir / META_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def read_meta(model_dir: str | Path) -> dict:
    """The metadata JSON of a model directory."""
    return json.loads((Path(model_dir) / META_NAME).read_text(encoding="utf-8"))
