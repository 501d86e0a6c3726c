"""A run prints its results, not its libraries' chatter; ``verbose=true`` brings that back."""

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from neuroflow.cli.quiet import LIGHTNING_INFO_LOGGERS, quiet_libraries
from tests.smoke.commands import FAST as TINY_EVAL

FAST = [*TINY_EVAL, "logger=none"]


def eval_output(tmp_path: Path, *extra: str) -> list[str]:
    """stdout + stderr lines of one tiny ``neuroflow-eval`` run (progress-bar redraws folded)."""
    script = Path(sys.executable).with_name("neuroflow-eval")
    args = [str(script), *FAST, *extra, f"hydra.run.dir={tmp_path}/run"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout + done.stderr
    # A progress bar redraws its line with "\r": only its last state is a line one reads.
    return [line.rsplit("\r", 1)[-1] for line in text.split("\n") if line.strip()]


@pytest.fixture
def restore_logging():
    levels = {name: logging.getLogger(name).level for name in LIGHTNING_INFO_LOGGERS}
    with warnings.catch_warnings():  # restores the filters the test changed
        yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_main_job_prints_no_tips_warnings_or_duplicate_lines(tmp_path):
    lines = eval_output(tmp_path)
    noisy = [line for line in lines if "Tip" in line or "warn" in line.lower()]
    assert not noisy, noisy
    assert not [line for line in lines if "GPU available" in line or "Seed set" in line]
    repeated = sorted({line for line in lines if lines.count(line) > 1})
    assert not repeated, repeated
    assert any(line.startswith("run directory: ") for line in lines), lines[-5:]


def test_verbose_brings_the_lightning_lines_back_once(tmp_path):
    lines = eval_output(tmp_path, "verbose=true")
    gpu = [line for line in lines if "GPU available" in line]
    assert len(gpu) == 1, gpu


def test_quiet_libraries_lowers_lightning_info_and_verbose_restores(restore_logging):
    import lightning.pytorch  # noqa: F401 (its import attaches the handlers being tested)

    quiet_libraries(verbose=False)
    for name in LIGHTNING_INFO_LOGGERS:
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)
        assert logging.getLogger(name).isEnabledFor(logging.WARNING)
    quiet_libraries(verbose=True)
    assert logging.getLogger("lightning.fabric.utilities.seed").isEnabledFor(logging.INFO)


def test_quiet_libraries_ignores_only_the_known_warning(restore_logging):
    quiet_libraries(verbose=False)
    quiet_libraries(verbose=False)  # idempotent: one filter, not two
    ours = [f for f in warnings.filters if f[1] is not None and "LeafSpec" in f[1].pattern]
    assert len(ours) == 1 and ours[0][0] == "ignore"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, ...", FutureWarning, 1)
        warnings.warn("something else", UserWarning, 1)
    assert [str(w.message) for w in caught] == ["something else"]
    quiet_libraries(verbose=True)
    ours = [f for f in warnings.filters if f[1] is not None and "LeafSpec" in f[1].pattern]
    assert len(ours) == 1 and ours[0][0] == "default"


def test_lightning_own_console_handler_dropped_when_root_prints(restore_logging):
    import lightning  # noqa: F401

    package = logging.getLogger("lightning")
    root = logging.getLogger()
    extra = logging.StreamHandler()
    saved = list(package.handlers)
    root.addHandler(extra)  # what Hydra's job logging does before the run
    try:
        quiet_libraries(verbose=True)
        assert not [h for h in package.handlers if type(h) is logging.StreamHandler]
    finally:
        root.removeHandler(extra)
        package.handlers[:] = saved
