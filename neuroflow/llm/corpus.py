"""Training text for the mini LM from freely licensed files the installed Python ships.

Three domains, each read deterministically from the local installation (no download):

* ``code``: Python standard-library source (PSF-2.0), without tests, IDLE, generated
  codec tables and vendored wheels;
* ``structured``: JSON / YAML / CSV / TOML data files inside installed distributions whose
  metadata names a permissive licence (recorded per file);
* ``prose``: the Python documentation topics (``pydoc_data/topics.py``) plus the
  docstrings of standard-library modules (PSF-2.0).

Every document belongs to the training or the held-out split by a stable hash of its
source id, and a module's docstrings use the module's path as their key, so its code and
its prose always fall on the same side: held-out text is never trained on.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as md
import platform
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from neuroflow.llm.lm_licence import distribution_licence, is_permissive

DOMAINS = ("code", "structured", "prose")
STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml", ".csv", ".toml")
STDLIB_LICENCE = "PSF-2.0"
# Path parts that are tests, vendored code, generated tables or the IDE, not library source.
_SKIP_PARTS = frozenset(
    {"test", "tests", "idlelib", "site-packages", "encodings", "ensurepip", "__pycache__"}
)
# The project itself is not third-party data and changes while it is developed.
_SKIP_DISTRIBUTIONS = frozenset({"neuroflow"})


@dataclass(frozen=True)
class CorpusCaps:
    """Size limits that keep the three domains balanced and the run short.

    Attributes:
        train_chars: Characters of training text per domain.
        heldout_chars: Characters of held-out text per domain.
        file_bytes: Files larger than this are skipped (data dumps, generated tables).
        doc_chars: A document is cut at the last line break before this many characters,
            so one big file cannot dominate a domain.
        max_line: Files with a longer line are skipped (minified or binary-like).
        heldout_percent: Share of source ids (by hash) that are held out.
    """

    train_chars: int = 1_200_000
    heldout_chars: int = 150_000
    file_bytes: int = 256_000
    doc_chars: int = 16_000
    max_line: int = 400
    heldout_percent: int = 10


@dataclass(frozen=True)
class Document:
    """One piece of training or held-out text.

    Attributes:
        domain: ``code``, ``structured`` or ``prose``.
        source: Stable id, ``<distribution>:<path inside it>[#part]``.
        distribution: Where the file comes from (``CPython 3.11.7`` or a PyPI name).
        licence: SPDX-like licence of that distribution.
        text: The document's text (newlines normalised to ``\\n``).
        heldout: True for the held-out split.
    """

    domain: str
    source: str
    distribution: str
    licence: str
    text: str
    heldout: bool


@dataclass
class Corpus:
    """The selected documents plus the distributions that were refused and why."""

    documents: list[Document]
    rejected: dict[str, str] = field(default_factory=dict)

    def select(self, domain: str | None = None, heldout: bool = False) -> list[Document]:
        """Documents of one split, optionally of one domain."""
        return [
            d
            for d in self.documents
            if d.heldout == heldout and (domain is None or d.domain == domain)
        ]

    def stats(self) -> dict[str, dict[str, int]]:
        """Per domain and split: number of files and characters."""
        out: dict[str, dict[str, int]] = {}
        for dom in DOMAINS:
            for split, held in (("train", False), ("heldout", True)):
                docs = self.select(dom, held)
                out.setdefault(dom, {})[f"{split}_files"] = len({d.source for d in docs})
                out[dom][f"{split}_chars"] = sum(len(d.text) for d in docs)
        return out

    def licences(self) -> dict[str, str]:
        """Source id → licence, for every document."""
        return {d.source: d.licence for d in self.documents}


def stable_hash(key: str) -> int:
    """A process-independent 32-bit hash (Python's ``hash`` is salted per process)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def is_heldout(key: str, percent: int) -> bool:
    """True when the split key ``key`` belongs to the held-out ``percent`` of ids."""
    return stable_hash(key) % 100 < percent


def clean_text(raw: bytes, caps: CorpusCaps) -> str | None:
    """UTF-8 text cut to ``caps.doc_chars``, or None for binary-like or minified content."""
    if b"\x00" in raw:
        return None
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        return None
    if not text.strip() or max(len(line) for line in text.split("\n")) > caps.max_line:
        return None
    if len(text) > caps.doc_chars:
        text = text[: caps.doc_chars].rsplit("\n", 1)[0] + "\n"
    return text


def stdlib_root() -> Path:
    """The standard library directory of the running interpreter."""
    return Path(sysconfig.get_paths()["stdlib"])


def _stdlib_name() -> str:
    return f"CPython {platform.python_version()}"


def stdlib_modules(caps: CorpusCaps) -> list[Path]:
    """Standard-library ``.py`` files that are library source, sorted by path."""
    root = stdlib_root()
    keep = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if _SKIP_PARTS.intersection(rel.parts[:-1]) or rel.parts[0] == "pydoc_data":
            continue
        if rel.name.startswith("test_") or path.stat().st_size > caps.file_bytes:
            continue
        keep.append(path)
    return keep


# A candidate: (split key, source id, distribution, licence, text loader).
Candidate = tuple[str, str, str, str, Callable[[], str | None]]


def _take(domain: str, candidates: Iterable[Candidate], caps: CorpusCaps) -> list[Document]:
    """Documents from ``candidates`` in their order until both splits reach their caps."""
    docs: list[Document] = []
    used = {False: 0, True: 0}
    limit = {False: caps.train_chars, True: caps.heldout_chars}
    for key, source, dist, licence, load in candidates:
        held = is_heldout(key, caps.heldout_percent)
        if used[held] >= limit[held]:
            if all(used[s] >= limit[s] for s in used):
                break
            continue
        text = load()
        if text:
            docs.append(Document(domain, source, dist, licence, text, held))
            used[held] += len(text)
    return docs


def _by_hash(candidates: list[Candidate]) -> list[Candidate]:
    # Hash order is a deterministic shuffle, so a cap keeps a spread of modules or packages.
    return sorted(candidates, key=lambda c: (stable_hash(c[1]), c[1]))


def code_documents(caps: CorpusCaps) -> list[Document]:
    """Standard-library source files as ``code`` documents."""
    root, dist = stdlib_root(), _stdlib_name()
    cands = [
        (rel, f"stdlib:{rel}", dist, STDLIB_LICENCE, lambda p=p: clean_text(p.read_bytes(), caps))
        for p in stdlib_modules(caps)
        for rel in [p.relative_to(root).as_posix()]
    ]
    return _take("code", _by_hash(cands), caps)


def docstrings(source: str) -> str:
    """Module, class and function docstrings of Python ``source``, blank-line separated."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    found = [ast.get_docstring(n) for n in ast.walk(tree) if isinstance(n, nodes)]
    return "\n\n".join(d for d in found if d and len(d) > 40) + "\n" if found else ""


def pydoc_topics() -> dict[str, str]:
    """The Python documentation topics shipped as ``pydoc_data/topics.py`` (read, not run)."""
    tree = ast.parse((stdlib_root() / "pydoc_data" / "topics.py").read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "topics":
            return ast.literal_eval(node.value)
    return {}


def prose_documents(caps: CorpusCaps) -> list[Document]:
    """Documentation topics and stdlib docstrings as ``prose`` documents."""
    root, dist = stdlib_root(), _stdlib_name()

    def cut(text: str) -> str | None:
        return clean_text(text.encode(), caps)

    cands: list[Candidate] = [
        (f"pydoc_data/topics.py#{name}", f"stdlib:pydoc_data/topics.py#{name}", dist,
         STDLIB_LICENCE, lambda t=text: cut(t))
        for name, text in sorted(pydoc_topics().items())
    ]  # fmt: skip
    for path in stdlib_modules(caps):
        rel = path.relative_to(root).as_posix()
        load = lambda p=path: cut(docstrings(p.read_text("utf-8", errors="replace")))  # noqa: E731
        cands.append((rel, f"stdlib:{rel}#docstrings", dist, STDLIB_LICENCE, load))
    return _take("prose", _by_hash(cands), caps)


def _distributions() -> Iterator[md.Distribution]:
    seen = set()
    for dist in sorted(md.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = (dist.metadata["Name"] or "").lower()
        if name and name not in seen and name not in _SKIP_DISTRIBUTIONS:
            seen.add(name)
            yield dist


def _data_files(dist: md.Distribution, caps: CorpusCaps) -> list[tuple[str, Path]]:
    out = []
    for rel in dist.files or []:
        posix = rel.as_posix()
        if not posix.lower().endswith(STRUCTURED_SUFFIXES) or ".dist-info/" in posix:
            continue
        path = Path(str(dist.locate_file(rel)))
        if path.is_file() and path.stat().st_size <= caps.file_bytes:
            out.append((posix, path))
    return sorted(out)


def structured_candidates(caps: CorpusCaps) -> tuple[list[Candidate], dict[str, str]]:
    """Data-file candidates of permissively licensed distributions, and refused ones."""
    by_suffix: dict[str, list[Candidate]] = {}
    rejected: dict[str, str] = {}
    for dist in _distributions():
        files = _data_files(dist, caps)
        if not files:
            continue
        name, licence = dist.metadata["Name"], distribution_licence(dist)
        if not is_permissive(licence):
            rejected[name] = f"licence {licence!r} unknown or not permissive"
            continue
        for posix, path in files:
            suffix = path.suffix.lower().replace(".yml", ".yaml")
            load = lambda p=path: clean_text(p.read_bytes(), caps)  # noqa: E731
            by_suffix.setdefault(suffix, []).append(
                (f"{name}:{posix}", f"{name}:{posix}", name, licence, load)
            )
    # Round-robin over formats: CSV files outnumber the rest and would crowd them out.
    lists = [_by_hash(by_suffix[s]) for s in sorted(by_suffix)]
    mixed = [c for group in zip_longest(*lists) for c in group if c is not None]
    return mixed, rejected


def build_corpus(caps: CorpusCaps | None = None) -> Corpus:
    """All three domains under ``caps``: the same installation gives the same corpus."""
    caps = caps or CorpusCaps()
    structured, rejected = structured_candidates(caps)
    docs = code_documents(caps) + _take("structured", structured, caps) + prose_documents(caps)
    return Corpus(documents=docs, rejected=rejected)
