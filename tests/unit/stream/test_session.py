"""Sessions over real files: streams end at their own length, bad inputs are recorded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from neuroflow.archs import make_arch
from neuroflow.data.transforms import FrameTransform
from neuroflow.stream import StreamEngine
from neuroflow.stream.inputs import resolve_inputs
from neuroflow.stream.labels import parse_labels
from neuroflow.stream.outputs import OutputSettings
from neuroflow.stream.session import run_session
from neuroflow.viz import Mp4Writer


def moving_clip(frames: int, seed: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    clip = np.repeat(background[None], frames, axis=0)
    for t in range(frames):
        clip[t, 8:24, 4 * t : 4 * t + 16] = 255
    return clip


@pytest.fixture
def inputs(tmp_path):
    """Two videos of 6 and 10 frames, a frame folder of 4 images, and an unreadable file."""
    for name, count, seed in (("short", 6, 0), ("long", 10, 1)):
        with Mp4Writer(tmp_path / f"{name}.mp4", fps=5) as out:
            for frame in moving_clip(count, seed):
                out.write(frame)
    folder = tmp_path / "stills"
    folder.mkdir()
    for t, frame in enumerate(moving_clip(4, 2)):
        Image.fromarray(frame).save(folder / f"frame_{t}.png")
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 50)
    return tmp_path


def test_inputs_resolve_with_every_failure_recorded(inputs):
    given = [inputs / "short.mp4", inputs / "long.mp4", inputs / "stills", inputs / "broken.mp4"]
    sources, skipped = resolve_inputs([*map(str, given), str(inputs / "missing.mp4")])
    assert [s.name for s in sources] == ["short", "long", "stills"]
    assert [s.frames for s in sources] == [6, 10, 4]
    assert {r["clip_id"] for r in skipped} == {"broken.mp4", str(inputs / "missing.mp4")}
    folder_sources, _ = resolve_inputs([str(inputs)])  # a folder of videos: one stream each
    assert sorted(s.name for s in folder_sources) == ["long", "short"]


def test_session_runs_streams_to_their_own_ends(tower, inputs, tmp_path):
    sources, skipped = resolve_inputs(
        [str(inputs / n) for n in ("short.mp4", "long.mp4", "stills", "broken.mp4")]
    )
    engine = StreamEngine(make_arch("C", tower, threshold=0.05))
    transform = FrameTransform(32)
    done = []
    report = run_session(
        engine, sources, transform, tmp_path / "run", progress=lambda n, k: done.append(n)
    )
    frames = {row["stream"]: row["frames"] for row in report.streams}
    assert frames == {"short": 6, "long": 10, "stills": 4}
    assert set(report.ended.values()) == {"end of input"}
    assert engine.streams == []  # every stream left when its input ended
    assert len(report.frames) == len(done) == 20
    long = np.load(tmp_path / "run/streams/long/embeddings.npy")
    masks = np.load(tmp_path / "run/streams/long/keep_masks.npy")
    assert long.shape == (10, tower.hidden_size) and masks.shape == (10, 64)
    assert masks[0].all() and not masks[1:].all()  # dense first frame, sparse afterwards
    # The long stream's embeddings do not depend on the others ending beside it.
    alone = StreamEngine(make_arch("C", tower, threshold=0.05))
    run_session(alone, sources[1:2], transform, tmp_path / "alone", settings=OutputSettings())
    assert np.abs(np.load(tmp_path / "alone/streams/long/embeddings.npy") - long).max() <= 1e-5
    assert (tmp_path / "run/streams/stills/overlay.mp4").is_file()
    assert (tmp_path / "run/streams/short/overlay.gif").is_file()


def test_max_frames_and_safetensors(tower, inputs, tmp_path):
    from safetensors.torch import load_file

    sources, _ = resolve_inputs([str(inputs / "long.mp4")])
    engine = StreamEngine(make_arch("B", tower, threshold=0.05))
    settings = OutputSettings(embeddings="safetensors", overlay=False, gif=False)
    report = run_session(
        engine, sources, FrameTransform(32), tmp_path, settings=settings, max_frames=3, stride=2
    )
    assert report.ended == {"long": "max_frames (3) reached"}
    saved = load_file(str(tmp_path / "streams/long/embeddings.safetensors"))
    assert saved["embeddings"].shape == (3, tower.hidden_size)
    assert [r["source_frame"] for r in report.frames] == [0, 2, 4]
    assert "overlay" not in report.outputs["long"]


def test_parse_labels(tmp_path):
    assert parse_labels("a car, a person ,") == ["a car", "a person"]
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# street\na car\n\nan empty street\n")
    assert parse_labels(str(prompts)) == ["a car", "an empty street"]
    with pytest.raises(ValueError, match="repeat"):
        parse_labels("car,car")
    with pytest.raises(ValueError, match="no labels"):
        parse_labels(" , ")
