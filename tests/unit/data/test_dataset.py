"""Clip datasets over bad input: every clip is either served (recoveries recorded) or skipped
with its reason; nothing dies and nothing disappears."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from neuroflow.data import (
    ClipDataset,
    ClipSampling,
    FrameTransform,
    build_clip_dataset,
    collate_clips,
    frame_folder_source,
    keep_uint8,
    read_frame_folder,
    single_video_source,
    video_folder_source,
)
from tests.unit.data.clipgen import (
    noise_frames,
    ramp_frames,
    truncate,
    write_frame_folder,
    write_video,
)

T = 8


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """A video folder with one clip of every kind of trouble, in two label folders."""
    root = tmp_path_factory.mktemp("messy")
    good, bad = root / "good", root / "bad"
    good.mkdir(), bad.mkdir()
    write_video(good / "long.avi", ramp_frames(12, 24, 32))
    write_video(good / "short.avi", ramp_frames(3, 24, 32))
    write_video(good / "one.mp4", ramp_frames(1, 24, 32), "libx264")
    gray = noise_frames(9, 17, 33)[..., 0]
    write_video(good / "gray.mkv", gray, "ffv1", "gray", input_format="gray")
    rgba = np.concatenate([noise_frames(9, 17, 33), np.zeros((9, 17, 33, 1), np.uint8)], -1)
    write_video(good / "rgba.mov", rgba, "png", "rgba", input_format="rgba")
    full = write_video(root / "full.avi", noise_frames(30, 24, 32))
    truncate(full, 0.5, good / "truncated.avi")
    full.unlink()
    write_video(bad / "zero.avi", np.zeros((0, 16, 16, 3), np.uint8))
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "corrupt.avi").write_bytes(np.random.default_rng(0).bytes(3000))
    return root


def _run(dataset, batch_size=3, num_workers=0):
    loader = DataLoader(
        dataset, batch_size=batch_size, collate_fn=collate_clips, num_workers=num_workers
    )
    served, skipped = {}, []
    for batch in loader:
        assert batch["frames"].shape[0] == len(batch["clip_id"]) == len(batch["label"])
        for i, clip_id in enumerate(batch["clip_id"]):
            served[clip_id] = (batch["frames"][i], batch["policy"][i])
        skipped += batch["skipped"]
    return served, skipped


def test_messy_folder_every_clip_accounted_for(messy):
    source = video_folder_source(messy)
    assert source.classes == ["bad", "good"]
    dataset = ClipDataset.from_source(
        source, sampling=ClipSampling(T), transform=FrameTransform(16)
    )
    served, skipped = _run(dataset)
    assert set(served) | {s["clip_id"] for s in skipped} == {c.clip_id for c in source.clips}
    assert {s["clip_id"] for s in skipped} == {"bad/zero.avi", "bad/empty.mp4", "bad/corrupt.avi"}
    assert dataset.skipped == skipped  # recorded in-process too
    reasons = {s["clip_id"]: s["reason"] for s in skipped}
    assert "empty file" in reasons["bad/empty.mp4"] and "no fram" in reasons["bad/zero.avi"]
    for frames, _ in served.values():
        assert frames.shape == (T, 3, 16, 16) and frames.dtype == torch.float32
    assert served["good/long.avi"][1] == {}
    assert served["good/short.avi"][1]["repeat_last"] == {
        "available": 3,
        "requested": T,
        "added": 5,
    }
    assert served["good/one.mp4"][1]["repeat_last"]["available"] == 1
    short = served["good/truncated.avi"][1]["decoded_short"]
    assert short["container_frames"] == 30 and 0 < short["decoded"] < 30


def test_probe_moves_bad_clips_up_front(messy):
    dataset = ClipDataset.from_source(
        video_folder_source(messy),
        sampling=ClipSampling(T),
        transform=FrameTransform(16),
        probe=True,
    )
    assert len(dataset) == 6 and len(dataset.skipped) == 3
    served, skipped = _run(dataset, num_workers=2)  # worker processes: skips travel in batches
    assert len(served) == 6 and skipped == []


def test_all_failed_batch_is_empty_not_an_error(messy):
    source = video_folder_source(messy)
    bad = [c for c in source.clips if c.clip_id.startswith("bad/")]
    batch = collate_clips([ClipDataset(bad)[i] for i in range(3)])
    assert batch["frames"].numel() == 0 and batch["clip_id"] == [] and len(batch["skipped"]) == 3


def test_load_raises_where_getitem_records(messy):
    source = video_folder_source(messy)
    dataset = ClipDataset([c for c in source.clips if c.clip_id == "bad/corrupt.avi"])
    with pytest.raises(ValueError, match="cannot open"):
        dataset.load(0)
    assert dataset[0]["error"].startswith("VideoDecodeError")


def test_consecutive_sampling_and_raw_frames(messy):
    source = single_video_source(messy / "good" / "long.avi", label=4)
    dataset = ClipDataset.from_source(
        source, sampling=ClipSampling(4, "consecutive", stride=2, start=1), transform=keep_uint8
    )
    item = dataset[0]
    assert item["indices"].tolist() == [1, 3, 5, 7] and item["label"] == 4
    assert item["frames"].dtype == torch.uint8 and item["frames"].shape == (4, 24, 32, 3)


def test_frame_folder_natural_order_and_modes(tmp_path):
    frames = noise_frames(11, 12, 20)
    folder = write_frame_folder(tmp_path / "clip", frames)
    assert torch.equal(read_frame_folder(folder), torch.from_numpy(frames))  # frame10 after 9
    from PIL import Image

    Image.fromarray(frames[0, ..., 0]).save(folder / "frame12.png")  # grayscale image
    Image.fromarray(np.dstack([frames[1], frames[1][..., :1]])).save(folder / "frame13.png")
    out = read_frame_folder(folder, [11, 12])
    assert out.shape == (2, 12, 20, 3)
    assert torch.equal(out[0, ..., 2], torch.from_numpy(frames[0, ..., 0]))
    assert torch.equal(out[1], torch.from_numpy(frames[1]))  # alpha dropped


def test_frame_folders_as_clips_with_bad_one(tmp_path):
    write_frame_folder(tmp_path / "a", noise_frames(5, 8, 8))
    write_frame_folder(tmp_path / "b", noise_frames(2, 8, 8))
    write_frame_folder(tmp_path / "b", noise_frames(1, 9, 8), suffix=".jpg")  # size differs
    dataset = ClipDataset.from_source(
        frame_folder_source(tmp_path), sampling=ClipSampling(3), transform=FrameTransform(8)
    )
    served, skipped = _run(dataset)
    assert list(served) == ["a"]
    assert skipped[0]["clip_id"] == "b" and "differ in size" in skipped[0]["reason"]


def test_build_clip_dataset_sources(messy, tmp_path):
    video = build_clip_dataset("video", messy / "good" / "short.avi", num_frames=4)
    assert video[0]["frames"].shape == (4, 3, 224, 224)
    folder = build_clip_dataset(
        "video_folder",
        messy,
        num_frames=2,
        size=4,
        seed=0,
        clip_list=tmp_path / "list.json",
        transform=FrameTransform(8),
    )
    assert len(folder) + len(folder.skipped) == 4 and folder.meta["subset"]["size"] == 4
    synthetic = build_clip_dataset("synthetic", size=3, num_frames=4)
    item = synthetic[2]
    assert item["frames"].shape == (4, 3, 64, 64) and item["motion_mask"].shape == (4, 4, 4)
    assert synthetic.classes[item["label"]] == "oscillate"
    with pytest.raises(ValueError, match="unknown clip source"):
        build_clip_dataset("youtube", messy)
    with pytest.raises(ValueError, match="needs a path"):
        build_clip_dataset("video")
