"""neuroflow-eval over a miniature UCF-101 tree in the official layout, with one broken clip,
one truncated clip and one clip shorter than T."""

import csv
import json

import pytest
from hydra.core.hydra_config import HydraConfig

from neuroflow.data.classnames import ucf101_class_names
from neuroflow.data.errors import NoUsableClipError
from neuroflow.lit.run_eval import run_eval
from tests.confs import compose_eval
from tests.unit.data.clipgen import cut, noise_frames, write_video

CLASSES = ["ApplyEyeMakeup", "YoYo", "PlayingDaf"]
BROKEN = "YoYo/v_YoYo_g02_c01.avi"
CUT = "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi"
SHORT = "PlayingDaf/v_PlayingDaf_g01_c01.avi"


def mini_ucf(root, readable=True):
    lists, videos = root / "ucfTrainTestlist", root / "UCF-101"
    lists.mkdir(parents=True)
    names = list(ucf101_class_names())
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {n}\r\n" for i, n in enumerate(names)))
    test = []
    for c, name in enumerate(CLASSES):
        (videos / name).mkdir(parents=True)
        for g in (1, 2):
            rel = f"{name}/v_{name}_g0{g}_c01.avi"
            frames = 2 if rel == SHORT else 6
            write_video(videos / rel, noise_frames(frames, 24, 32, seed=10 * c + g))
            if not readable:
                cut(videos / rel, 100, videos / rel)  # the AVI header only
            test.append(rel)
    (videos / BROKEN).write_bytes(b"not a video")  # corrupt clip
    cut(videos / CUT, 40, videos / CUT)
    (lists / "testlist01.txt").write_text("\r\n".join(test) + "\r\n")
    return root


def _run(tmp_path, readable=True):
    root = mini_ucf(tmp_path / "data", readable)
    run_dir = tmp_path / "run"
    cfg = compose_eval(
        [
            "model=tiny",
            "dataset=ucf101",
            "prompts=ucf101_single",
            f"paths.data_dir={root}",
            "dataset.size=null",
            "dataset.num_frames=4",
            "batch_size=4",
            "logger=none",
            "callbacks=none",
        ],
        run_dir,
    )
    HydraConfig.instance().set_config(cfg)
    return run_dir, cfg


def test_ucf101_eval_records_subset_list_broken_clips_and_recoveries(tmp_path):
    run_dir, cfg = _run(tmp_path)
    run_eval(cfg, run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["clips"] == 4
    skipped = {s["clip_id"]: s for s in results["skipped"]}
    assert set(skipped) == {BROKEN, CUT}
    assert results["clips"] + len(skipped) == 6  # every listed clip is counted
    for clip_id, record in skipped.items():
        assert record["path"].endswith(clip_id) and record["error"] == "VideoDecodeError"
        assert record["reason"] == f"{record['error']}: {record['message']}"
    assert (run_dir / "clip_list.json").is_file()
    with (run_dir / "clips.csv").open() as fh:
        rows = {row["clip_id"]: row for row in csv.DictReader(fh)}
    assert {int(r["label"]) for r in rows.values()} == {names_index(n) for n in CLASSES}
    assert rows[SHORT]["recovery"] == "repeat_last:2"
    assert {r["recovery"] for k, r in rows.items() if k != SHORT} == {""}


def test_all_unreadable_ends_with_one_error_and_keeps_the_skips(tmp_path):
    run_dir, cfg = _run(tmp_path, readable=False)
    with pytest.raises(NoUsableClipError, match="no clip could be evaluated"):
        run_eval(cfg, run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["clips"] == 0 and len(results["skipped"]) == 6
    assert all(s["reason"] and s["path"] for s in results["skipped"])
    assert results["status"] == "failed"
    with pytest.raises(NoUsableClipError):  # a rerun tries again instead of "resuming" a failure
        run_eval(cfg, run_dir)


def names_index(name):
    return list(ucf101_class_names()).index(name)
