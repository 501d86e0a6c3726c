"""The library layers import no research tooling (Hydra, W&B, Lightning, glyphs/bench/lit/cli).

``core``, ``models``, ``archs``, ``baselines``, ``eval`` and ``data`` are what other code
builds on; the config system, experiment logging, the Lightning runner and the research
packages sit above them and may import them, never the reverse. The one exception is
``data/datamodule.py``, the Lightning adapter of the datasets.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import neuroflow

ROOT = Path(neuroflow.__file__).resolve().parent
LIBRARY = (
    "core",
    "models",
    "archs",
    "baselines",
    "eval",
    "data",
    "viz",
    "stream",
    "llm",
    "analysis",
)
TOOLING = ("hydra", "omegaconf", "wandb")
LIGHTNING = ("lightning", "pytorch_lightning")
UPPER = tuple(f"neuroflow.{name}" for name in ("glyphs", "bench", "lit", "cli"))
LIGHTNING_ALLOWED = {ROOT / "data" / "datamodule.py"}


def _package_of(file: Path) -> str:
    """The package a file's relative imports resolve against."""
    parts = file.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1])


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``source`` (a file of ``package``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            name = ".".join(p for p in (base, node.module or "") if p)
            found.append((node.lineno, name))
            # `from neuroflow import glyphs` imports neuroflow.glyphs too
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _is(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def violations(source: str, package: str, lightning_ok: bool = False) -> list[tuple[int, str]]:
    """The forbidden imports of one library file as ``(line, module)``."""
    forbidden = TOOLING + UPPER + (() if lightning_ok else LIGHTNING)
    return [
        (line, name) for line, name in imported_modules(source, package) if _is(name, forbidden)
    ]


def _file_violations(file: Path) -> list[str]:
    found = violations(file.read_text(), _package_of(file), file in LIGHTNING_ALLOWED)
    return [f"{file.relative_to(ROOT.parent)}:{line}: {name}" for line, name in found]


FILES = sorted(f for package in LIBRARY for f in (ROOT / package).rglob("*.py"))


def test_every_library_package_is_scanned():
    scanned = {f.relative_to(ROOT).parts[0] for f in FILES}
    assert scanned == set(LIBRARY)
    assert len(FILES) > 30  # the walk found the sources, not an empty tree


def test_library_layers_import_no_research_tooling():
    bad = [v for file in FILES for v in _file_violations(file)]
    assert not bad, "library layers import tooling above them:\n" + "\n".join(bad)


def test_the_datamodule_is_the_only_lightning_import():
    users = [
        f
        for f in FILES
        if any(_is(name, LIGHTNING) for _, name in imported_modules(f.read_text(), _package_of(f)))
    ]
    assert users == sorted(LIGHTNING_ALLOWED)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import hydra\n", "hydra"),
        ("import wandb as wb\n", "wandb"),
        ("from omegaconf import DictConfig\n", "omegaconf"),
        ("from neuroflow.glyphs.io import x\n", "neuroflow.glyphs.io"),
        ("from neuroflow import bench\n", "neuroflow.bench"),
        ("from ...lit import build\n", "neuroflow.lit"),
        ("def f():\n    from ...cli.eval import main\n", "neuroflow.cli.eval"),
        ("import lightning.pytorch as pl\n", "lightning.pytorch"),
        ("import lightning_utilities\nfrom neuroflow.models import tower\n", None),
        ("from . import tower\nfrom .. import core\n", None),
    ],
)
def test_the_checker_catches_each_form(source, expected):
    found = [name for _, name in violations(source, "neuroflow.models.sub")]
    assert found[:1] == ([expected] if expected else [])


def test_importing_the_library_pulls_in_no_tooling():
    """Transitive imports too: a fresh interpreter imports every library package."""
    roots = TOOLING + LIGHTNING + UPPER
    code = (
        "import sys\n"
        f"import {', '.join(f'neuroflow.{p}' for p in LIBRARY)}\n"
        f"roots = {roots!r}\n"
        "print('\\n'.join(m for m in sys.modules if any(m == r or m.startswith(r + '.') "
        "for r in roots)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
