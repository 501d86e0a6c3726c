"""Exceptions raised by the data layer.

Every failure a dataset run can recover from (skip the clip and record why) derives from
:class:`VideoError`, so callers catch one type and keep the message as the recorded reason.
"""

from __future__ import annotations


class VideoError(ValueError):
    """A video or frame folder could not be turned into frames."""


class VideoDecodeError(VideoError):
    """The container could not be opened or decoded (empty, corrupt, truncated, unknown codec)."""


class EmptyVideoError(VideoError):
    """The file opened but holds no decodable frame."""


class FrameIndexError(VideoError, IndexError):
    """A requested frame index lies past the last decodable frame.

    Attributes:
        available: Number of frames that did decode.
    """

    def __init__(self, message: str, available: int) -> None:
        super().__init__(message)
        self.available = available


class NotAVideoError(VideoError):
    """A file in a scanned folder is neither a clip nor something the folder format ignores."""


class NoUsableClipError(ValueError):
    """Every clip of a run was skipped; ``skipped`` holds the records (``clip_id``, ``reason``).

    A ``ValueError``, so the command line reports it as one ``error:`` line and exits 2.
    """

    def __init__(self, message: str, skipped: list[dict] | None = None) -> None:
        super().__init__(message)
        self.skipped = list(skipped or [])


class DatasetNotFoundError(FileNotFoundError):
    """A dataset root, split file or clip list is missing; the message says what to get."""
