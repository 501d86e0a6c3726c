"""The built wheel carries the configs (as ``neuroflow.conf``) and the shipped model, so a
non-editable ``pip install .`` runs every command from any directory."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_every_config_and_the_mini_siglip(tmp_path):
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(tmp_path),
         str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("neuroflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {
        f"neuroflow/conf/{p.relative_to(ROOT / 'conf')}" for p in (ROOT / "conf").rglob("*.yaml")
    }
    configs -= {c for c in configs if c.startswith("neuroflow/conf/local/")}  # per machine, ignored
    assert configs and configs <= names, sorted(configs - names)[:5]
    assert "neuroflow/conf/__init__.py" in names
    assert "neuroflow/assets/mini_siglip/model.safetensors" in names
    assert not any(n.startswith(("tests/", "conf/")) for n in names)
