"""neuroflow-eval over a miniature UCF-101 tree in the official layout, with one broken clip."""

import json

import numpy as np
from hydra.core.hydra_config import HydraConfig

from neuroflow.data.classnames import ucf101_class_names
from neuroflow.lit.run_eval import run_eval
from tests.confs import compose_eval
from tests.unit.data.clipgen import noise_frames, write_video

CLASSES = ["ApplyEyeMakeup", "YoYo", "PlayingDaf"]


def mini_ucf(root):
    lists, videos = root / "ucfTrainTestlist", root / "UCF-101"
    lists.mkdir(parents=True)
    names = list(ucf101_class_names())
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {n}\r\n" for i, n in enumerate(names)))
    test = []
    for c, name in enumerate(CLASSES):
        (videos / name).mkdir(parents=True)
        for g in (1, 2):
            rel = f"{name}/v_{name}_g0{g}_c01.avi"
            write_video(videos / rel, noise_frames(6, 24, 32, seed=10 * c + g))
            test.append(rel)
    (videos / "YoYo" / "v_YoYo_g02_c01.avi").write_bytes(b"not a video")  # corrupt clip
    (lists / "testlist01.txt").write_text("\r\n".join(test) + "\r\n")
    return root


def test_ucf101_eval_records_subset_list_and_broken_clip(tmp_path):
    root = mini_ucf(tmp_path / "data")
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
    run_eval(cfg, run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["clips"] == 5
    assert [s["clip_id"] for s in results["skipped"]] == ["YoYo/v_YoYo_g02_c01.avi"]
    assert (run_dir / "clip_list.json").is_file()
    labels = {
        int(x)
        for x in np.loadtxt(run_dir / "clips.csv", delimiter=",", skiprows=1, usecols=1, dtype=str)
    }
    assert labels == {names_index(n) for n in CLASSES}


def names_index(name):
    return list(ucf101_class_names()).index(name)
