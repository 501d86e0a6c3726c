"""The error every model loader raises when a model cannot be found or read."""

from __future__ import annotations


class ModelNotAvailableError(OSError):
    """A model could not be loaded (offline, misspelled id, or a damaged local directory).

    An ``OSError`` so that callers treating file-system problems as user errors (the CLI
    prints one line for them) treat this one the same way.
    """
