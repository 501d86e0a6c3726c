"""Turn user errors (bad settings, missing models or data) into one clear line, not a traceback."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from hydra.errors import InstantiationException

log = logging.getLogger("neuroflow")

# Hydra wraps errors raised while building a config's objects (e.g. a missing dataset root).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, InstantiationException)


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
        log.error("%s: %s", type(err).__name__, err)
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
