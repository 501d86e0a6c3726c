"""Write small test clips with PyAV (the tests make every file they read)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

# (codec, container suffix, pixel format): several FFmpeg encoders that the bundled build has.
CODECS = [
    ("mpeg4", "avi", "yuv420p"),
    ("libx264", "mp4", "yuv420p"),
    ("mjpeg", "avi", "yuvj420p"),
    ("ffv1", "mkv", "yuv444p"),
    ("libvpx-vp9", "webm", "yuv420p"),
]


def ramp_frames(num: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth frames that lossy codecs keep close: a gradient shifting one step per frame."""
    yy, xx = np.mgrid[:height, :width]
    rng = np.random.default_rng(seed)
    tint = rng.integers(0, 60, 3)
    frames = np.empty((num, height, width, 3), np.uint8)
    for t in range(num):
        base = (xx * 3 + yy * 2 + 17 * t) % 200
        frames[t] = (base[..., None] + tint[None, None]).clip(0, 255)
    return frames


def noise_frames(num: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Incompressible frames (large packets, so truncating a file cuts whole frames)."""
    return np.random.default_rng(seed).integers(0, 256, (num, height, width, 3), dtype=np.uint8)


def write_video(
    path: Path,
    frames: np.ndarray,
    codec: str = "mpeg4",
    pix_fmt: str = "yuv420p",
    rate: int = 10,
    input_format: str = "rgb24",
    options: dict | None = None,
) -> Path:
    """Encode ``frames`` ([T, H, W, C] uint8, or [T, H, W] for gray) into ``path``.

    A zero-frame ``frames`` still writes a valid container with an empty video stream.
    ``options`` go to the muxer (``{"movflags": "faststart"}`` puts an MP4's index first).
    """
    height, width = frames.shape[1:3]
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        container.start_encoding()
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=input_format)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def truncate(path: Path, fraction: float, out: Path) -> Path:
    """Copy the first ``fraction`` of ``path``'s bytes to ``out``."""
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def write_frame_folder(folder: Path, frames: np.ndarray, suffix: str = ".png") -> Path:
    """Save frames as ``frame1.png, frame2.png, ..., frame10.png`` (natural order matters)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(frames, start=1):
        Image.fromarray(image).save(folder / f"frame{i}{suffix}")
    return folder


def mp4_boxes(path: Path) -> dict[str, tuple[int, int]]:
    """Top-level MP4 boxes as ``{type: (start, end)}`` byte offsets (first of each type)."""
    data, boxes, at = path.read_bytes(), {}, 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8].decode("latin-1")
        if size < 8:
            break
        boxes.setdefault(kind, (at, at + size))
        at += size
    return boxes


def cut(path: Path, size: int, out: Path) -> Path:
    """Copy the first ``size`` bytes of ``path`` to ``out``."""
    out.write_bytes(path.read_bytes()[:size])
    return out
