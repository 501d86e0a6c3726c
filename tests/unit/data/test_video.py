"""Decoding with PyAV on clips the tests write: codecs, sizes, frame counts, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroflow.data import (
    FrameIndexError,
    VideoDecodeError,
    iter_frames,
    read_frames,
    video_info,
)
from neuroflow.data.video import count_frames
from tests.unit.data.clipgen import CODECS, noise_frames, ramp_frames, truncate, write_video


@pytest.mark.parametrize(("codec", "ext", "pix_fmt"), CODECS)
def test_codecs_roundtrip(tmp_path, codec, ext, pix_fmt):
    frames = ramp_frames(6, 48, 64)
    path = write_video(tmp_path / f"clip.{ext}", frames, codec, pix_fmt)
    info = video_info(path)
    assert (info.frames, info.width, info.height) == (6, 64, 48)
    assert info.fps == pytest.approx(10.0)
    out = read_frames(path)
    assert out.dtype == torch.uint8 and out.shape == (6, 48, 64, 3)
    error = (out.float() - torch.from_numpy(frames).float()).abs().mean()
    assert error < 12, f"{codec}: mean abs error {error:.1f}"  # lossy, but the same picture


def test_lossless_is_exact_at_odd_size(tmp_path):
    frames = noise_frames(3, 17, 33)  # odd height and width
    path = write_video(tmp_path / "odd.mkv", frames, "ffv1", "bgr0")
    assert torch.equal(read_frames(path), torch.from_numpy(frames))
    assert video_info(path).codec == "ffv1"


@pytest.mark.parametrize(("height", "width"), [(26, 50), (18, 34), (2, 2)])
def test_small_and_non_multiple_of_16_sizes(tmp_path, height, width):
    path = write_video(tmp_path / "s.avi", ramp_frames(2, height, width))
    assert read_frames(path).shape == (2, height, width, 3)


def test_one_frame_file(tmp_path):
    path = write_video(tmp_path / "one.mp4", ramp_frames(1, 32, 32), "libx264")
    assert video_info(path).frames == 1
    assert read_frames(path).shape == (1, 32, 32, 3)
    assert read_frames(path, [0, 0, 0]).shape == (3, 32, 32, 3)
    with pytest.raises(FrameIndexError) as err:
        read_frames(path, [1])
    assert err.value.available == 1


def test_zero_frame_file(tmp_path):
    path = write_video(tmp_path / "zero.avi", np.zeros((0, 16, 32, 3), np.uint8))
    assert video_info(path).frames == 0
    assert read_frames(path).shape == (0, 16, 32, 3)
    with pytest.raises(FrameIndexError, match="only 0 frames"):
        read_frames(path, [0])


def test_empty_corrupt_and_missing_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty file"):
        read_frames(empty)
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(VideoDecodeError, match="cannot open"):
        video_info(garbage)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_frames(tmp_path / "absent.mp4")


def test_container_without_video_stream(tmp_path):
    path = write_video(tmp_path / "nostream.mp4", np.zeros((0, 16, 16, 3), np.uint8), "libx264")
    with pytest.raises(VideoDecodeError, match="no video stream"):
        read_frames(path)


def test_truncated_avi_reports_decoded_frames(tmp_path):
    path = write_video(tmp_path / "full.avi", noise_frames(30, 48, 64))
    cut = truncate(path, 0.5, tmp_path / "cut.avi")
    assert video_info(cut).frames == 30  # the header still claims the full length
    with pytest.raises(FrameIndexError) as err:
        read_frames(cut, [29])
    assert 0 < err.value.available < 30
    assert read_frames(cut, [err.value.available - 1]).shape == (1, 48, 64, 3)


def test_truncated_mjpeg_fails_mid_decode_with_count(tmp_path):
    path = write_video(tmp_path / "full.avi", noise_frames(30, 48, 64), "mjpeg", "yuvj420p")
    cut = truncate(path, 0.5, tmp_path / "cut.avi")
    with pytest.raises(FrameIndexError) as err:
        read_frames(cut)
    assert 0 < err.value.available < 30


def test_truncated_mp4_header_is_a_decode_error(tmp_path):
    path = write_video(tmp_path / "full.mp4", noise_frames(10, 48, 64), "libx264")
    with pytest.raises(VideoDecodeError):
        read_frames(truncate(path, 0.5, tmp_path / "cut.mp4"))


def test_grayscale_becomes_rgb(tmp_path):
    gray = noise_frames(3, 17, 33)[..., 0]
    path = write_video(tmp_path / "gray.mkv", gray, "ffv1", "gray", input_format="gray")
    out = read_frames(path)
    assert out.shape == (3, 17, 33, 3)
    for channel in range(3):
        assert torch.equal(out[..., channel], torch.from_numpy(gray))


@pytest.mark.parametrize(
    ("codec", "ext", "pix_fmt"), [("png", "mov", "rgba"), ("ffv1", "mkv", "bgra")]
)
def test_rgba_drops_alpha(tmp_path, codec, ext, pix_fmt):
    rgba = noise_frames(2, 17, 33)
    rgba = np.concatenate([rgba, np.full((2, 17, 33, 1), 90, np.uint8)], axis=-1)
    path = write_video(tmp_path / f"rgba.{ext}", rgba, codec, pix_fmt, input_format="rgba")
    assert torch.equal(read_frames(path), torch.from_numpy(rgba[..., :3].copy()))


def test_indices_order_repeats_and_validation(tmp_path):
    frames = noise_frames(8, 16, 16)
    path = write_video(tmp_path / "c.mkv", frames, "ffv1", "bgr0")
    out = read_frames(path, [5, 1, 5, 0])
    assert torch.equal(out, torch.from_numpy(frames[[5, 1, 5, 0]]))
    assert torch.equal(read_frames(path, max_frames=3), torch.from_numpy(frames[:3]))
    with pytest.raises(ValueError, match=">= 0"):
        read_frames(path, [-1])
    with pytest.raises(ValueError, match="not both"):
        read_frames(path, [0], max_frames=1)
    with pytest.raises(ValueError, match="empty"):
        read_frames(path, [])


def test_iter_frames_streams_with_stride(tmp_path):
    frames = noise_frames(10, 16, 16)
    path = write_video(tmp_path / "c.mkv", frames, "ffv1", "bgr0")
    got = list(iter_frames(path, stride=3, start=1))
    assert len(got) == 3 and all(f.shape == (16, 16, 3) for f in got)
    assert torch.equal(torch.stack(got), torch.from_numpy(frames[[1, 4, 7]]))
    assert len(list(iter_frames(path, max_frames=4))) == 4
    with pytest.raises(ValueError, match="stride"):
        next(iter_frames(path, stride=0))


def test_count_frames_without_header_count(tmp_path):
    path = write_video(tmp_path / "c.webm", ramp_frames(5, 16, 16), "libvpx-vp9")
    assert count_frames(path) == 5
    assert video_info(path).frames == 5  # WebM has no header count; demuxing fills it in


def test_resolution_change_mid_stream(tmp_path):
    # MPEG-TS files concatenate byte-wise, so the decoder meets a new size mid-stream
    small = write_video(tmp_path / "a.ts", ramp_frames(4, 16, 32), "mpeg2video")
    large = write_video(tmp_path / "b.ts", ramp_frames(4, 24, 48), "mpeg2video")
    joined = tmp_path / "ab.ts"
    joined.write_bytes(small.read_bytes() + large.read_bytes())
    shapes = {tuple(f.shape) for f in iter_frames(joined)}  # streaming passes sizes through
    assert shapes == {(16, 32, 3), (24, 48, 3)}
    with pytest.raises(VideoDecodeError, match="frame size changes mid-stream"):
        read_frames(joined)
    assert read_frames(joined, [0, 1]).shape == (2, 16, 32, 3)
