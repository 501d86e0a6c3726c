"""neuroflow-segment end to end, in process: the tiny SigLIP on an MP4 and a glyph clip."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter

import numpy as np
import pytest

from neuroflow.cli.segment import main
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.viz import write_mp4

pytestmark = pytest.mark.usefixtures("one_thread")
FAST = ["model=tiny", "glyph_clips=1", "glyph_frames=4", "sheet_frames=2", "logger=none"]


def square_clip(path, frames: int = 6):
    """A grey 48x64 clip with a white square moving right."""
    clip = np.full((frames, 48, 64, 3), 90, np.uint8)
    for t in range(frames):
        clip[t, 16:32, 8 * t : 8 * t + 16] = 255
    return write_mp4(path, clip, fps=10)


def run(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["neuroflow-segment", *args])
    return main()


def rows_of(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_segments_every_frame_of_a_video_and_a_glyph_clip(tmp_path, monkeypatch, capsys):
    video = square_clip(tmp_path / "square.mp4")
    run_dir = tmp_path / "run"
    inputs = f"inputs=[{video},glyphs,{tmp_path / 'missing.mp4'}]"
    run(monkeypatch, *FAST, inputs, "gate.floor_tokens=0", f"hydra.run.dir={run_dir}")
    printed = capsys.readouterr().out
    frames = rows_of(run_dir / "frames.csv")
    assert [(r["stream"], int(r["frame"])) for r in frames] == [
        *(("square", t) for t in range(6)),
        *(("glyphs_0", t) for t in range(4)),
    ]
    segments = rows_of(run_dir / "segments.csv")
    per_frame = Counter((r["stream"], int(r["frame"])) for r in segments)
    assert all(per_frame[(f["stream"], int(f["frame"]))] == int(f["clusters"]) for f in frames)
    first = [r for r in segments if r["first_frame"] == "True"]
    assert [(r["stream"], int(r["size"])) for r in first] == [("square", 64), ("glyphs_0", 64)]
    assert sum(int(f["clusters"]) for f in frames) == len(segments) > 2
    assert all(int(r["size"]) >= 2 for r in segments)  # min_patches=2
    # The square covers patch columns t..t+1 on frame t: once it has left its start (which
    # the slow EMA still remembers: a second cluster there), one cluster follows it, one track.
    tracks = {
        (int(r["frame"]), int(r["left"]), int(r["right"])): r["track"]
        for r in segments
        if r["stream"] == "square"
    }
    following = {t: tracks[(t, t, t + 2)] for t in range(6) if (t, t, t + 2) in tracks}
    assert set(following) == {3, 4, 5} and len(set(following.values())) == 1
    results = json.loads((run_dir / "results.json").read_text())
    digit = results["truth"]["glyphs_0"]  # the generated clip's digit, graded per cluster
    glyph_rows = [r for r in segments if r["stream"] == "glyphs_0"]
    assert digit in CLASS_NAMES and {r["truth"] for r in glyph_rows} == {digit}
    assert all(r["correct"] == str(r["label"] == digit) for r in glyph_rows)
    glyph_frames = [f for f in frames if f["stream"] == "glyphs_0"]
    assert all(f["frame_correct"] == str(f["frame_label"] == digit) for f in glyph_frames)
    assert results["identity"]["kind"] == "segment" and results["identity"]["identity_key"]
    assert results["skipped"][0]["clip_id"].endswith("missing.mp4")
    assert results["summary"]["frames"] == 10
    for name in ("resolved_config.yaml", "sheets/square.png", "sheets/glyphs_0.png"):
        assert (run_dir / name).is_file(), name
    assert "most common labels" in printed and str(run_dir) in printed


def test_a_bad_value_is_rejected_by_the_segment_schema(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as stop:
        run(monkeypatch, *FAST, "connectivity=many", f"hydra.run.dir={tmp_path}/r")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert stop.value.code == 2 and not (tmp_path / "r").exists()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "(key: connectivity)" in lines[0]
