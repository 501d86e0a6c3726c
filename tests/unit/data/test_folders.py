"""Folder scans count every file present: a clip (served or skipped with its reason), a
"not a video" skip, or a hidden file that the folder format ignores."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from neuroflow.data import (
    ClipDataset,
    ClipSampling,
    DatasetNotFoundError,
    FrameTransform,
    collate_clips,
    frame_folder_source,
    hf_videofolder_source,
    video_folder_source,
)
from neuroflow.data.folders import VIDEO_SUFFIXES
from tests.unit.data.clipgen import noise_frames, ramp_frames, write_frame_folder, write_video

# (codec, pixel format) per container; each is one the decoder reads.
CLIPS = {
    "a/clip.mp4": ("libx264", "yuv420p"),
    "a/clip.ts": ("mpeg2video", "yuv420p"),
    "b/clip.gif": ("gif", "rgb8"),
    "b/clip.mkv": ("ffv1", "yuv444p"),
    "b/clip.webm": ("libvpx-vp9", "yuv420p"),
    "top.MOV": ("mpeg4", "yuv420p"),  # upper-case suffix, directly in the root
}
OTHERS = ["a/notes.txt", "b/image.png", "labels.csv", "README"]
HIDDEN = [".DS_Store", "a/._clip.mp4", ".cache/x.mp4", "b/Thumbs.db"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    for rel, (codec, fmt) in CLIPS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / rel, ramp_frames(6, 24, 32), codec, fmt)
    (root / "b" / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 60)
    Image.fromarray(noise_frames(1, 8, 8)[0]).save(root / "b" / "image.png")
    for rel in [o for o in OTHERS if not o.endswith(".png")] + HIDDEN:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("not a clip")
    return root


def _present(root):
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).as_posix() not in HIDDEN
    }


def test_every_video_suffix_is_found_and_every_other_file_counted(mixed):
    source = video_folder_source(mixed)
    ids = {c.clip_id for c in source.clips}
    assert ids == {*CLIPS, "b/broken.mkv"} and source.classes == ["a", "b"]
    not_video = {s["clip_id"]: s for s in source.skipped}
    assert set(not_video) == set(OTHERS)
    for record in not_video.values():
        assert record["error"] == "NotAVideoError" and "not a video" in record["reason"]
    assert len(ids) + len(not_video) == len(_present(mixed))  # hidden files aside, all counted


def test_folder_run_serves_or_skips_every_clip(mixed):
    source = video_folder_source(mixed)
    dataset = ClipDataset.from_source(source, sampling=ClipSampling(4), transform=FrameTransform(8))
    served, skipped = {}, []
    for batch in DataLoader(dataset, batch_size=3, collate_fn=collate_clips):
        served.update(zip(batch["clip_id"], batch["policy"], strict=True))
        skipped += batch["skipped"]
    assert set(served) == set(CLIPS)  # .ts, .gif, .mkv, .webm, .MOV all decode
    assert [s["clip_id"] for s in skipped] == ["b/broken.mkv"]
    assert len(served) + len(dataset.skipped) == len(_present(mixed))
    assert served["b/clip.gif"] == {}  # GIF decodes to BGRA, but every pixel is opaque


def test_suffix_list_covers_what_the_decoder_reads():
    for suffix in (".ts", ".gif", ".mkv", ".webm", ".mp4", ".avi", ".mov", ".m2ts", ".ogv"):
        assert suffix in VIDEO_SUFFIXES
    assert not {".txt", ".png", ".jpg", ".csv", ".json", ".mp3", ".srt"} & set(VIDEO_SUFFIXES)


def test_folder_of_only_other_files_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetNotFoundError, match="no videos .* found 1 other files"):
        video_folder_source(tmp_path)


def test_frame_folders_count_loose_files_and_empty_folders(tmp_path):
    write_frame_folder(tmp_path / "clip1", noise_frames(3, 8, 8))
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden").write_text("x")
    source = frame_folder_source(tmp_path)
    assert [c.clip_id for c in source.clips] == ["clip1"]
    reasons = {s["clip_id"]: s["reason"] for s in source.skipped}
    assert reasons == {
        "empty": "NotAVideoError: folder holds no frame images",
        "notes.txt": "NotAVideoError: not a frame folder",
    }


def test_hf_videofolder_counts_files_it_does_not_index(tmp_path):
    pytest.importorskip("datasets")
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    write_video(root / "a" / "one.mp4", ramp_frames(4, 16, 16), "libx264")
    write_video(root / "a" / "two.avi", ramp_frames(4, 16, 16))
    (root / "a" / "notes.txt").write_text("x")
    source = hf_videofolder_source(root, cache_dir=tmp_path / "hf")
    counted = {c.clip_id for c in source.clips} | {s["clip_id"] for s in source.skipped}
    assert counted == {"a/one.mp4", "a/two.avi", "a/notes.txt"}
    assert len(source.clips) + len(source.skipped) == 3
    assert all(s["error"] == "NotAVideoError" for s in source.skipped)


def test_gray_folder_clip_records_its_conversion(tmp_path):
    gray = noise_frames(3, 8, 8)[..., 0]
    folder = tmp_path / "g"
    folder.mkdir()
    for i, image in enumerate(gray):
        Image.fromarray(image).save(folder / f"f{i}.png")
    dataset = ClipDataset.from_source(
        frame_folder_source(folder), sampling=ClipSampling(3), transform=FrameTransform(8)
    )
    assert dataset[0]["policy"] == {"gray_to_rgb": {"source": "L"}}
    np.testing.assert_array_equal(dataset.load(0)["frames"][:, 0], dataset.load(0)["frames"][:, 2])
