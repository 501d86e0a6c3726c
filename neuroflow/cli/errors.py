"""Turn user errors (bad settings, missing models or data) into one clear line, not a traceback."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from hydra.errors import InstantiationException
from omegaconf.errors import OmegaConfBaseException

log = logging.getLogger("neuroflow")

# Hydra wraps errors raised while building a config's objects (e.g. a missing dataset root).
# OmegaConf raises on keys and values its schema rejects.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    OSError,
    InstantiationException,
    OmegaConfBaseException,
)


def _summary(err: BaseException) -> str:
    """First line of ``err``'s message, with the config key OmegaConf names (``full_key``)."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    key = next((x.split(":", 1)[1].strip() for x in lines if x.strip().startswith("full_key:")), "")
    return lines[0].rstrip(".") + (f" (key: {key})" if key and key not in lines[0] else "")


def describe(err: BaseException) -> str:
    """One line for a user error. Hydra's compose errors wrap the reason (OmegaConf's), so
    the cause's summary is appended: ``Could not override 'gate.treshold': Key 'treshold' is
    not in struct (key: gate.treshold)``."""
    parts = [_summary(err)]
    cause = err.__cause__
    if cause is not None and str(cause).strip():
        parts.append(_summary(cause))
    return ": ".join(dict.fromkeys(parts))


def fail(message: str) -> None:
    """Print ``error: <message>`` (one line) and exit with status 2.

    The run's log file (when Hydra set one up) records the line too; the console gets it once.
    """
    line = " ".join(str(message).split())
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (line,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(2)


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Print ``error: <message>`` and exit with status 2 on a user error.

    Set ``NEUROFLOW_TRACEBACK=1`` to see the full traceback instead.
    """
    try:
        yield
    except USER_ERRORS as err:
        if os.environ.get("NEUROFLOW_TRACEBACK"):
            raise
        fail(describe(err))
