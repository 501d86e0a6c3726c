"""Run video sources through a :class:`~neuroflow.stream.StreamEngine` until every one ends.

Every tick reads the next frame of each live stream and processes them in one engine step.
A stream that ends, fails to decode, or reaches ``max_frames`` leaves the engine with a
recorded end; the others go on. An input that cannot be opened never joins and is recorded
as such. Nothing given vanishes from the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neuroflow.data.errors import VideoError
from neuroflow.data.records import skip_record
from neuroflow.stream.engine import StreamEngine, StreamFrame
from neuroflow.stream.inputs import StreamSource
from neuroflow.stream.outputs import OutputSettings, StreamOutputs

Progress = Callable[[str, int], None]


@dataclass
class SessionReport:
    """What a session did.

    Attributes:
        streams: One summary row per stream that ran.
        frames: One row per processed frame of every stream.
        ended: Why each stream stopped (stream name -> reason).
        skipped: Inputs that could not be opened (skip records).
        outputs: Stream name -> the files it wrote.
        embeddings: Stream name -> ``[T, D]`` embeddings (for labels).
    """

    streams: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    ended: dict[str, str] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    embeddings: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class _Live:
    source: StreamSource
    frames: Iterator[torch.Tensor]
    outputs: StreamOutputs
    count: int = 0


def run_session(
    engine: StreamEngine,
    sources: Sequence[StreamSource],
    transform: Callable[[torch.Tensor], torch.Tensor],
    run_dir: str | Path,
    *,
    settings: OutputSettings | None = None,
    stream_options: Mapping[str, Any] | None = None,
    start: int = 0,
    stride: int = 1,
    max_frames: int | None = None,
    progress: Progress | None = None,
) -> SessionReport:
    """Process every source to its end (or ``max_frames``) through ``engine``.

    Args:
        engine: The engine (its streams are added and removed here).
        sources: The streams to read.
        transform: uint8 ``[H, W, 3]`` frame -> normalised ``[1, 3, S, S]`` model input.
        run_dir: Where ``streams/<name>/`` folders go.
        settings: What every stream writes.
        stream_options: ``add_stream`` keywords for every stream (``target_keep``, ...).
        start: First frame of every source.
        stride: Keep every ``stride``-th frame.
        max_frames: Stop each stream after this many frames.
        progress: Called with ``(stream, frames done)`` after every frame.
    """
    settings = settings or OutputSettings()
    report = SessionReport()
    run_dir = Path(run_dir)
    live = _open_all(engine, sources, run_dir, settings, stream_options, start, stride, report)
    while live:
        raw = _next_frames(engine, live, max_frames, report)
        if not raw:
            break
        batch = {name: transform(frame)[0] for name, frame in raw.items()}
        for name, result in engine.tick(batch).items():
            stream = live[name]
            stream.outputs.add(result, raw[name])
            report.frames.append(_frame_row(name, stream, result, start, stride))
            stream.count += 1
            if progress is not None:
                progress(name, stream.count)
    for name in list(live):  # only reached when every stream ended in the same tick
        _finish(engine, live, name, "end of input", report)
    return report


def _open_all(
    engine: StreamEngine,
    sources: Sequence[StreamSource],
    run_dir: Path,
    settings: OutputSettings,
    options: Mapping[str, Any] | None,
    start: int,
    stride: int,
    report: SessionReport,
) -> dict[str, _Live]:
    live = {}
    for source in sources:
        try:
            frames = source.open(start, stride)
        except (OSError, VideoError, ValueError) as err:
            report.skipped.append(skip_record(source.name, source.path, err))
            continue
        engine.add_stream(source.name, **dict(options or {}))
        outputs = StreamOutputs(run_dir / "streams" / source.name, source.fps / stride, settings)
        live[source.name] = _Live(source, frames, outputs)
    return live


def _next_frames(
    engine: StreamEngine, live: dict[str, _Live], max_frames: int | None, report: SessionReport
) -> dict[str, torch.Tensor]:
    """The next frame of every live stream; streams that are done leave the engine."""
    raw = {}
    for name, stream in list(live.items()):
        if max_frames is not None and stream.count >= max_frames:
            _finish(engine, live, name, f"max_frames ({max_frames}) reached", report)
            continue
        try:
            raw[name] = next(stream.frames)
        except StopIteration:
            _finish(engine, live, name, "end of input", report)
        except (OSError, VideoError) as err:
            reason = f"{type(err).__name__} after {stream.count} frames: {err}"
            _finish(engine, live, name, reason, report)
    return raw


def _finish(
    engine: StreamEngine, live: dict[str, _Live], name: str, reason: str, report: SessionReport
) -> None:
    stream = live.pop(name)
    state_bytes = engine.state_bytes(name)
    stats = engine.remove_stream(name)
    report.ended[name] = reason
    report.outputs[name] = stream.outputs.close()
    if stream.outputs.embeddings:
        report.embeddings[name] = torch.stack(stream.outputs.embeddings)
    report.streams.append(
        {
            "stream": name,
            "path": str(stream.source.path),
            "frames": stats.frames,
            "keep_fraction": stats.keep_fraction,
            "steady_keep_fraction": stats.steady_keep_fraction,
            "recomputed_tokens": stats.recomputed_tokens,
            "resets": stats.resets,
            "time_share": stats.time_share,
            "encoder_seconds": stats.seconds,
            "state_bytes": state_bytes,
            "ended": reason,
        }
    )


def _frame_row(
    name: str, stream: _Live, result: StreamFrame, start: int, stride: int
) -> dict[str, Any]:
    return {
        "stream": name,
        "frame": result.frame,
        "source_frame": start + result.frame * stride,
        "time_s": (start + result.frame * stride) / stream.source.fps,
        "keep_fraction": result.keep_fraction,
        "recomputed": int(result.keep_mask.sum()),
        "tokens": int(result.keep_mask.numel()),
        "first_frame": result.first_frame,
        "threshold": result.threshold,
    }
