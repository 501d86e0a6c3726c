"""Shared fixtures: a tiny random SigLIP tower and a short synthetic street-like clip."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest


def write_clip(path: Path, frames: int = 16, size: tuple[int, int] = (48, 64)) -> Path:
    """A static textured background with a bright square moving right (H.264, 10 fps)."""
    rng = np.random.default_rng(0)
    height, width = size
    background = rng.integers(0, 120, size=(height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            image = background.copy()
            x = (4 * t) % (width - 12)
            image[16:28, x : x + 12] = 250
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-frame synthetic clip with motion in a small region."""
    return write_clip(tmp_path_factory.mktemp("clips") / "moving_square.mp4")
