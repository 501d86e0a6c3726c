"""The one shape of a skipped-clip record, and the one string form of a clip's recoveries.

A skip is a plain dict (JSON-ready, picklable across DataLoader workers)::

    {"clip_id": str, "path": str | None, "error": "VideoDecodeError",
     "message": "...", "reason": "VideoDecodeError: ..."}

``error`` is the exception type that stopped the clip (or the type that would describe it,
for skips found while indexing, e.g. ``FileNotFoundError`` for a listed but absent clip);
``reason`` is ``"<error>: <message>"``, the one line a report shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def skip_record(
    clip_id: str,
    path: str | Path | None,
    err: BaseException | None = None,
    *,
    error: str | None = None,
    message: str | None = None,
) -> dict:
    """A skipped-clip record, from the exception that stopped the clip or from its parts.

    Args:
        clip_id: The clip's id.
        path: The clip's file or folder (``None`` when unknown, e.g. a stale clip-list id).
        err: The exception; its type name and message fill ``error`` and ``message``.
        error: Type name when there is no exception object.
        message: Message when there is no exception object.
    """
    if err is not None:
        # An exception with an empty message still has to say something in the report.
        error, message = type(err).__name__, str(err) or repr(err)
    error, message = error or "Error", message or ""
    return {
        "clip_id": str(clip_id),
        "path": None if path is None else str(path),
        "error": error,
        "message": message,
        "reason": f"{error}: {message}",
    }


def _detail(name: str, details: Any) -> str:
    """The short value shown after a recovery's name (frames added, frames decoded, ...)."""
    if not isinstance(details, Mapping):
        return "" if details in (None, True, {}) else str(details)
    if name == "repeat_last":
        return str(details.get("added", ""))
    if name == "decoded_short":
        return f"{details.get('decoded', '')}/{details.get('container_frames', '')}"
    if "source" in details:
        return str(details["source"])
    return ""


def describe_recovery(policy: Mapping[str, Any] | None) -> str:
    """One string for a clip's recoveries: ``"repeat_last:3;gray_to_rgb:gray"``, ``""`` for none.

    Names keep the policy's order (the order they were applied); the value after ``:`` is the
    frames added (``repeat_last``), ``decoded/container`` frames (``decoded_short``) or the source
    pixel format or image mode (``gray_to_rgb``, ``alpha_dropped``).
    """
    parts = []
    for name, details in (policy or {}).items():
        value = _detail(name, details)
        parts.append(f"{name}:{value}" if value else str(name))
    return ";".join(parts)
