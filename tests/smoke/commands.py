"""Run the installed console scripts in smoke tests: the tiny offline settings and one runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A seconds-long neuroflow-eval: tiny random SigLIP, 4 glyph clips of 3 frames.
FAST = ["model=tiny", "dataset.size=4", "dataset.num_frames=3", "batch_size=2", "callbacks=none"]


def command(name: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``name`` (a console script of this environment) run offline with ``args`` in ``cwd``."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    script = Path(sys.executable).with_name(name)
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
