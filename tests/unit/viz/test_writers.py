"""MP4 and GIF writers: files written, decoded back with the same frame count and size."""

import av
import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from neuroflow.viz import overlay_frames, write_gif, write_mp4, writers


def _clip(t=5, h=24, w=32, seed=0):
    """Distinct frames (a moving bright bar) so no writer may merge two of them."""
    rng = np.random.default_rng(seed)
    clip = rng.integers(0, 64, (t, h, w, 3), dtype=np.uint8)
    for i in range(t):
        clip[i, :, (3 * i) % w] = 255
    return clip


def read_back_mp4(path):
    """``(frame count, (height, width), codec name)`` of the decoded video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        codec = stream.codec_context.name
    assert len({f.shape for f in frames}) == 1
    return len(frames), frames[0].shape[:2], codec


def read_back_gif(path):
    """``(frame count, (width, height), loop, durations)`` of the GIF."""
    with Image.open(path) as image:
        frames = [(f.size, f.info.get("duration")) for f in ImageSequence.Iterator(image)]
        loop = image.info.get("loop")
    return len(frames), frames[0][0], loop, [d for _, d in frames]


def test_write_mp4_round_trip(tmp_path):
    clip = _clip()
    out = write_mp4(tmp_path / "nested" / "dir" / "clip.mp4", clip, fps=8)
    assert out == tmp_path / "nested" / "dir" / "clip.mp4" and out.stat().st_size > 0
    count, size, codec = read_back_mp4(out)
    assert count == 5 and size == (24, 32)
    assert codec in {"h264", "mpeg4"}
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == 8


def test_write_mp4_pads_odd_sides_by_one_pixel(tmp_path):
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (3, 37, 61, 3), dtype=np.uint8)
    masks = torch.from_numpy(rng.random((3, 15)) < 0.5)
    out = write_mp4(str(tmp_path / "odd.mp4"), overlay_frames(frames, masks, (3, 5)))
    count, size, _ = read_back_mp4(out)
    assert count == 3 and size == (38, 62)


def test_write_mp4_keeps_the_picture(tmp_path):
    """Lossy, but a flat colour survives encoding within a few levels."""
    clip = np.zeros((3, 16, 16, 3), dtype=np.uint8)
    clip[:, :, :8] = (200, 40, 40)
    out = write_mp4(tmp_path / "flat.mp4", clip)
    with av.open(str(out)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(first[4:12, 1:6] - (200, 40, 40)).max() < 12
    assert np.abs(first[4:12, 10:15]).max() < 12


def test_write_gif_round_trip(tmp_path):
    out = write_gif(tmp_path / "sub" / "clip.gif", torch.from_numpy(_clip()), fps=5)
    assert out.exists()
    count, size, loop, durations = read_back_gif(out)
    assert count == 5 and size == (32, 24) and loop == 0
    assert durations == [200] * 5


def test_write_gif_downscales_the_longest_side(tmp_path):
    out = write_gif(tmp_path / "small.gif", _clip(t=3, h=30, w=60), max_side=20)
    count, size, _, _ = read_back_gif(out)
    assert count == 3 and size == (20, 10)
    out = write_gif(tmp_path / "same.gif", _clip(t=2, h=30, w=60), max_side=100)
    assert read_back_gif(out)[1] == (60, 30)


def test_gif_merges_identical_frames_but_keeps_timing(tmp_path):
    clip = np.repeat(_clip(t=1), 4, axis=0)
    count, _, _, durations = read_back_gif(write_gif(tmp_path / "still.gif", clip, fps=10))
    assert count == 1 and sum(durations) == 400


@pytest.mark.parametrize("writer", [write_mp4, write_gif])
@pytest.mark.parametrize(
    ("frames", "match"),
    [
        (np.zeros((0, 8, 8, 3), np.uint8), "non-empty"),
        (np.zeros((2, 8, 8), np.uint8), r"\[T, H, W, 3\]"),
        (np.zeros((2, 8, 8, 4), np.uint8), r"\[T, H, W, 3\]"),
        (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
    ],
)
def test_writers_reject_bad_clips(tmp_path, writer, frames, match):
    with pytest.raises(ValueError, match=match):
        writer(tmp_path / "bad", frames)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("writer", [write_mp4, write_gif])
def test_writers_reject_bad_fps(tmp_path, writer):
    with pytest.raises(ValueError, match="fps"):
        writer(tmp_path / "bad", _clip(t=2), fps=0)


def test_write_mp4_falls_back_to_mpeg4(tmp_path, monkeypatch):
    def no_encoder(name, mode):
        raise av.codec.codec.UnknownCodecError(name)

    monkeypatch.setattr(writers.av, "Codec", no_encoder)
    assert writers._codec() == "mpeg4"
    count, size, codec = read_back_mp4(write_mp4(tmp_path / "m4.mp4", _clip(h=23), fps=8))
    assert count == 5 and size == (24, 32) and codec == "mpeg4"


def test_mp4_writer_appends_frames_one_at_a_time(tmp_path):
    clip = _clip(t=7, h=25, w=31)
    with writers.Mp4Writer(tmp_path / "live.mp4", fps=5) as out:
        for frame in clip:
            out.write(torch.from_numpy(frame))
        with pytest.raises(ValueError, match="but the video is"):
            out.write(clip[0][:20])
    assert out.frames == 7
    assert read_back_mp4(tmp_path / "live.mp4")[:2] == (7, (26, 32))
