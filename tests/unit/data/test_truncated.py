"""Truncated and half-parsed files: each one is a recorded skip naming the clip, its type and
message, or a served clip with its recovery; the run never stops and never loses a clip."""

from __future__ import annotations

import av
import pytest
from torch.utils.data import DataLoader

from neuroflow.data import (
    ClipDataset,
    ClipRef,
    ClipSampling,
    FrameTransform,
    VideoDecodeError,
    collate_clips,
    read_frames,
    video_folder_source,
    video_info,
)
from neuroflow.data.records import skip_record
from tests.unit.data.clipgen import cut, mp4_boxes, noise_frames, write_video

RECORD_KEYS = {"clip_id", "path", "error", "message", "reason"}


def _no_codec_context(path) -> bool:
    """True when raw PyAV opens ``path`` but its video stream has no codec context."""
    try:
        with av.open(str(path)) as container:
            return (
                bool(container.streams.video) and container.streams.video[0].codec_context is None
            )
    except av.error.FFmpegError:
        return False


@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    """MP4s (index first and index last) cut every 8 bytes through their ``moov`` header, at
    its end, and right after the ``mdat`` header, plus cut MKV/AVI files, in one folder."""
    root = tmp_path_factory.mktemp("cuts")
    full = root.parent / f"{root.name}_full"  # next to the cuts, not scanned with them
    full.mkdir()
    for name, options in [("first", {"movflags": "faststart"}), ("last", None)]:
        src = write_video(
            full / f"{name}.mp4", noise_frames(12, 24, 32), "libx264", options=options
        )
        boxes = mp4_boxes(src)
        start, end = boxes["moov"]
        for size in [*range(start, end, 8), end, boxes["mdat"][0] + 8]:
            cut(src, size, root / f"{name}_{size:05d}.mp4")
    for codec, suffix, fmt in [("ffv1", "mkv", "yuv444p"), ("mpeg4", "avi", "yuv420p")]:
        src = write_video(full / f"a.{suffix}", noise_frames(12, 24, 32), codec, fmt)
        for size in (16, 100, 300, 600):
            cut(src, size, root / f"{suffix}_{size:05d}.{suffix}")
    return root


def _full(cuts):
    return cuts.parent / f"{cuts.name}_full"


def _good(cuts):
    return _full(cuts) / "first.mp4"


def _serve_all(dataset, batch_size=4):
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_clips)
    served, skipped = {}, []
    for batch in loader:
        served.update(zip(batch["clip_id"], batch["policy"], strict=True))
        skipped += batch["skipped"]
    return served, skipped


def test_half_parsed_header_reproduces_and_is_a_clear_error(cuts):
    broken = [p for p in sorted(cuts.glob("*.mp4")) if _no_codec_context(p)]
    assert len(broken) >= 4  # the fixture does reproduce the stream without parameters
    for path in broken:
        with pytest.raises(VideoDecodeError, match="no codec parameters") as err:
            video_info(path)
        assert str(path) in str(err.value)


def test_every_cut_is_served_or_skipped_with_its_reason(cuts):
    files = sorted(p for p in cuts.iterdir() if p.is_file())
    source = video_folder_source(cuts)
    dataset = ClipDataset.from_source(source, sampling=ClipSampling(4), transform=FrameTransform(8))
    served, skipped = _serve_all(dataset)
    assert len(served) + len(skipped) == len(files)  # nothing vanishes
    assert set(served) | {s["clip_id"] for s in skipped} == {p.name for p in files}
    assert dataset.skipped == skipped
    for record in skipped:
        assert set(record) == RECORD_KEYS and record["path"] == str(cuts / record["clip_id"])
        assert record["error"] in {"VideoDecodeError", "EmptyVideoError"}, record
        assert record["reason"] == f"{record['error']}: {record['message']}"
        assert record["clip_id"] in record["message"]  # the message names the file
    reasons = {s["clip_id"]: s["reason"] for s in skipped}
    broken = [p.name for p in files if _no_codec_context(p)]
    assert broken and all("no codec parameters" in reasons[name] for name in broken)
    header_only = mp4_boxes(_full(cuts) / "first.mp4")["moov"][1]  # cut right after moov
    assert "no frame decodes" in reasons[f"first_{header_only:05d}.mp4"]
    for clip_id, policy in served.items():  # short decodes say so; the rest decode in full
        assert "decoded_short" in policy or len(read_frames(cuts / clip_id)) == 12, clip_id


def test_probe_skips_the_same_cuts_up_front(cuts):
    files = [p for p in cuts.iterdir() if p.is_file()]
    dataset = ClipDataset.from_source(
        video_folder_source(cuts), sampling=ClipSampling(4), transform=FrameTransform(8), probe=True
    )
    assert len(dataset) + len(dataset.skipped) == len(files)
    assert {s["error"] for s in dataset.skipped} <= {"VideoDecodeError", "EmptyVideoError"}
    served, late = _serve_all(dataset)  # headers that parse can still fail to decode
    assert len(served) + len(late) == len(dataset)
    assert len(served) + len(dataset.skipped) == len(files)


class _Boom(Exception):
    """Stands for whatever a decoder or transform may raise that no one anticipated."""


@pytest.mark.parametrize(
    "exc", [AttributeError("'NoneType' has no 'width'"), _Boom(), KeyError("x")]
)
def test_any_exception_of_one_clip_is_a_recorded_skip(cuts, exc):
    clip = ClipRef("some/clip.mp4", _good(cuts))

    def explode(frames):
        raise exc

    dataset = ClipDataset([clip], sampling=ClipSampling(2), transform=explode)
    item = dataset[0]
    assert item["frames"] is None and item["skip"] == dataset.skipped[0]
    record = dataset.skipped[0]
    assert record["clip_id"] == "some/clip.mp4" and record["error"] == type(exc).__name__
    assert record["message"] and record["reason"].startswith(type(exc).__name__ + ": ")
    batch = collate_clips([item])
    assert batch["skipped"] == [record] and batch["frames"].numel() == 0


def test_interrupts_still_stop_the_run(cuts):
    def interrupt(frames):
        raise KeyboardInterrupt

    clip = ClipRef("c", _good(cuts))
    with pytest.raises(KeyboardInterrupt):
        ClipDataset([clip], sampling=ClipSampling(2), transform=interrupt)[0]


def test_all_unreadable_keeps_every_record(cuts, tmp_path):
    for name in ("a.mp4", "b.mkv"):
        (tmp_path / name).write_bytes(b"\x00" * 64)
    cut(_good(cuts), 40, tmp_path / "c.mp4")  # ftyp and a moov box header only
    dataset = ClipDataset.from_source(video_folder_source(tmp_path), transform=FrameTransform(8))
    served, skipped = _serve_all(dataset)
    assert served == {} and [s["clip_id"] for s in skipped] == ["a.mp4", "b.mkv", "c.mp4"]
    assert all(set(s) == RECORD_KEYS for s in dataset.skipped)


def test_skip_record_from_parts_and_from_exception():
    assert skip_record("x", None, error="FileNotFoundError", message="gone") == {
        "clip_id": "x",
        "path": None,
        "error": "FileNotFoundError",
        "message": "gone",
        "reason": "FileNotFoundError: gone",
    }
    assert skip_record("x", "p", RuntimeError())["message"] == "RuntimeError()"  # never empty
