"""neuroflow-stream end to end on the shipped street clip with the mini SigLIP."""

from __future__ import annotations

import csv
import json

import av
import numpy as np

from neuroflow.data.samples import sample_video
from neuroflow.data.video import read_frames
from neuroflow.viz import patch_index
from tests.smoke.commands import command

FRAMES = 12


def cell_means(frame: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """``[N]`` mean absolute value of ``frame`` over each patch cell."""
    rows, cols = patch_index(frame.shape[:2], grid)
    cell = rows[:, None] * grid[1] + cols[None, :]
    sums = np.bincount(cell.ravel(), weights=np.abs(frame).mean(axis=2).ravel(), minlength=64)
    return sums / np.bincount(cell.ravel(), minlength=grid[0] * grid[1])


def test_street_clip_writes_embeddings_statistics_and_an_overlay_of_the_keep_mask(tmp_path):
    done = command(
        "neuroflow-stream",
        [f"max_frames={FRAMES}", "inputs=[bikes,missing.mp4]", f"hydra.run.dir={tmp_path}"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "skipped missing.mp4" in done.stdout
    folder = tmp_path / "streams" / "bikes"
    embeddings = np.load(folder / "embeddings.npy")
    masks = np.load(folder / "keep_masks.npy")
    assert embeddings.shape == (FRAMES, 128) and np.isfinite(embeddings).all()
    with (tmp_path / "frames.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == FRAMES
    assert [int(r["recomputed"]) for r in rows] == masks.sum(axis=1).tolist()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["identity"]["kind"] == "stream"
    assert results["skipped"][0]["clip_id"] == "missing.mp4"
    # The overlay marks exactly the recomputed patches: after video compression, a tinted
    # cell differs from the original frame by far more than an untouched one.
    original = read_frames(sample_video("bikes"), indices=range(FRAMES)).numpy()
    with av.open(str(folder / "overlay.mp4")) as video:
        overlay = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert len(overlay) == FRAMES
    for t in range(FRAMES):
        diff = overlay[t][: original.shape[1], : original.shape[2]].astype(float) - original[t]
        marked = cell_means(diff, (8, 8)) > 12.0
        assert (marked == masks[t]).all(), f"frame {t}"
    assert 0 < masks[1:].mean() < 1  # some, not all, patches recomputed after the first frame
