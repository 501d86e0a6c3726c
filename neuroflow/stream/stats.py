"""Per-stream statistics of a :class:`~neuroflow.stream.StreamEngine`."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class StreamStats:
    """What one stream did since it joined.

    Attributes:
        frames: Frames processed.
        frames_since_reset: Frames since it joined or was last reset.
        resets: Resets asked for with ``reset_stream``.
        recomputed_tokens: Patches recomputed, summed over frames (first frames included).
        total_tokens: Patches seen, summed over frames.
        steady_recomputed: Patches recomputed on frames that were not first frames.
        steady_tokens: Patches seen on frames that were not first frames.
        seconds: This stream's share of the ticks' encoder time (attributed by the tokens it
            sent; see :func:`attribute_seconds`).
        tick_seconds: Time of the ticks this stream took part in.
    """

    frames: int = 0
    frames_since_reset: int = 0
    resets: int = 0
    recomputed_tokens: int = 0
    total_tokens: int = 0
    steady_recomputed: int = 0
    steady_tokens: int = 0
    seconds: float = 0.0
    tick_seconds: float = 0.0

    @property
    def keep_fraction(self) -> float:
        """Share of patches recomputed over all frames (first frames included)."""
        return self.recomputed_tokens / self.total_tokens if self.total_tokens else float("nan")

    @property
    def steady_keep_fraction(self) -> float:
        """Share of patches recomputed on frames after the first (the gate's working point)."""
        return self.steady_recomputed / self.steady_tokens if self.steady_tokens else float("nan")

    @property
    def time_share(self) -> float:
        """This stream's share of the time of the ticks it took part in."""
        return self.seconds / self.tick_seconds if self.tick_seconds else float("nan")

    def record(
        self, kept: int, tokens: int, first: bool, seconds: float, tick_seconds: float
    ) -> None:
        """Add one frame."""
        self.frames += 1
        self.frames_since_reset = 1 if first else self.frames_since_reset + 1
        self.recomputed_tokens += kept
        self.total_tokens += tokens
        if not first:
            self.steady_recomputed += kept
            self.steady_tokens += tokens
        self.seconds += seconds
        self.tick_seconds += tick_seconds

    def to_dict(self) -> dict[str, float | int]:
        """Plain fields plus the derived fractions (for tables)."""
        return {
            **asdict(self),
            "keep_fraction": self.keep_fraction,
            "steady_keep_fraction": self.steady_keep_fraction,
            "time_share": self.time_share,
        }


def attribute_seconds(seconds: float, kept: list[int], prefix: int) -> list[float]:
    """Split one tick's time over its streams in proportion to the tokens each sent.

    The encoder's work in a packed tick grows with the tokens it carries (class tokens
    included), so this is each stream's share of that work. It is an attribution, not a
    measurement: the streams ran in one call.
    """
    weights = [k + prefix for k in kept]
    total = sum(weights)
    if total == 0:
        return [seconds / len(kept)] * len(kept)
    return [seconds * w / total for w in weights]
