"""UCF-101 indexing on a miniature tree that follows the official layout and split formats."""

from __future__ import annotations

import pytest

from neuroflow.data import DatasetNotFoundError, ucf101_class_names, ucf101_source
from neuroflow.data.ucf101 import read_class_index, read_split_file
from tests.unit.data.clipgen import ramp_frames, write_video

# (folder name, file-name spelling): the real HandstandPushups clips are v_HandStandPushups_*
CLASSES = [
    ("ApplyEyeMakeup", "ApplyEyeMakeup"),
    ("HandstandPushups", "HandStandPushups"),
    ("PlayingDaf", "PlayingDaf"),
    ("YoYo", "YoYo"),
]
GROUPS = {1: ([1, 2], [3, 4]), 2: ([3], [1, 2, 4]), 3: ([4], [1, 2, 3])}  # split: (test, train)


def _rel(folder: str, spelled: str, group: int, clip: int) -> str:
    return f"{folder}/v_{spelled}_g{group:02d}_c{clip:02d}.avi"


@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    videos, lists = root / "UCF-101", root / "ucfTrainTestlist"
    lists.mkdir()
    names = ucf101_class_names()
    crlf = "\r\n"  # the official files use Windows line endings
    (lists / "classInd.txt").write_text(
        crlf.join(f"{i} {n}" for i, n in enumerate(names, 1)) + crlf, newline=""
    )
    for folder, spelled in CLASSES:
        (videos / folder).mkdir(parents=True)
        for group in range(1, 5):
            for clip in (1, 2):
                frames = ramp_frames(3 + group + clip, 16, 16, seed=group)
                write_video(videos / _rel(folder, spelled, group, clip), frames)
    for split, (test_groups, train_groups) in GROUPS.items():
        test, train = [], []
        for folder, spelled in CLASSES:
            label = names.index(folder) + 1
            test += [_rel(folder, spelled, g, c) for g in test_groups for c in (1, 2)]
            train += [
                f"{_rel(folder, spelled, g, c)} {label}" for g in train_groups for c in (1, 2)
            ]
        (lists / f"testlist0{split}.txt").write_text(crlf.join(test) + crlf, newline="")
        (lists / f"trainlist0{split}.txt").write_text(crlf.join(train) + crlf, newline="")
    return root


def test_split_file_parsers(ucf_root):
    lists = ucf_root / "ucfTrainTestlist"
    assert read_class_index(lists / "classInd.txt") == list(ucf101_class_names())
    test = read_split_file(lists / "testlist01.txt")
    assert test[0] == ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", None)
    train = read_split_file(lists / "trainlist01.txt")
    assert train[0] == ("ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi", 1)


@pytest.mark.parametrize("split", [1, 2, 3])
@pytest.mark.parametrize("subset", ["test", "train"])
def test_index_every_split(ucf_root, split, subset):
    source = ucf101_source(ucf_root, split=split, subset=subset)
    groups = GROUPS[split][0 if subset == "test" else 1]
    assert len(source.clips) == len(CLASSES) * len(groups) * 2 and not source.skipped
    names = ucf101_class_names()
    for clip in source.clips:
        assert source.classes[clip.label] == clip.clip_id.split("/")[0]
        assert clip.path.is_file() and clip.label == names.index(clip.clip_id.split("/")[0])
    assert source.meta["classes_from"] == "classInd.txt"


def test_root_may_be_the_video_folder(ucf_root):
    assert len(ucf101_source(ucf_root / "UCF-101").clips) == 16  # lists found next to it


def test_missing_root_says_where_to_get_ucf101(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        ucf101_source(tmp_path / "nowhere")
    message = str(err.value)
    assert "https://www.crcv.ucf.edu/data/UCF101.php" in message
    assert "UCF-101/<Class>" in message and "ucfTrainTestlist" in message


def _copy_tree(src, dst, drop=()):
    import shutil

    shutil.copytree(src, dst)
    for rel in drop:
        (dst / rel).unlink()
    return dst


def test_missing_split_file(ucf_root, tmp_path):
    root = _copy_tree(ucf_root, tmp_path / "d", drop=["ucfTrainTestlist/testlist02.txt"])
    with pytest.raises(DatasetNotFoundError, match="testlist02.txt"):
        ucf101_source(root, split=2)
    (root / "ucfTrainTestlist" / "classInd.txt").unlink()  # falls back to the shipped names
    assert ucf101_source(root, split=1).meta["classes_from"].startswith("bundled")


def test_listed_but_missing_clip_is_recorded(ucf_root, tmp_path):
    gone = "YoYo/v_YoYo_g01_c02.avi"
    root = _copy_tree(ucf_root, tmp_path / "d", drop=[f"UCF-101/{gone}"])
    source = ucf101_source(root, split=1)
    assert len(source.clips) == 15
    (skip,) = source.skipped
    assert skip["clip_id"] == gone and skip["error"] == "FileNotFoundError"
    assert skip["path"].endswith(gone) and "testlist01.txt" in skip["reason"]
    assert len(source.clips) + len(source.skipped) == 16  # every listed clip is counted


def test_case_mismatch_between_list_and_disk_is_tolerated(ucf_root, tmp_path):
    root = _copy_tree(ucf_root, tmp_path / "d")
    old = root / "UCF-101" / "YoYo" / "v_YoYo_g01_c01.avi"
    old.rename(old.with_name("v_Yoyo_g01_c01.avi"))
    source = ucf101_source(root, split=1)
    assert not source.skipped and len(source.clips) == 16


def test_label_mismatch_is_an_error(ucf_root, tmp_path):
    root = _copy_tree(ucf_root, tmp_path / "d")
    lst = root / "ucfTrainTestlist" / "trainlist01.txt"
    lst.write_text(lst.read_text().replace(" 1\n", " 5\n", 1))
    with pytest.raises(ValueError, match="does not match classInd"):
        ucf101_source(root, split=1, subset="train")


def test_hf_videofolder_index_keeps_classind_labels(ucf_root, tmp_path):
    pytest.importorskip("datasets")
    files = ucf101_source(ucf_root, split=1)
    via_hf = ucf101_source(ucf_root, split=1, index="hf", cache_dir=tmp_path / "hf")
    assert [(c.clip_id, c.label) for c in via_hf.clips] == [
        (c.clip_id, c.label) for c in files.clips
    ]


def test_bad_arguments(ucf_root):
    with pytest.raises(ValueError, match="split"):
        ucf101_source(ucf_root, split=4)
    with pytest.raises(ValueError, match="index"):
        ucf101_source(ucf_root, index="sql")


def _with_lines(ucf_root, tmp_path, name, edit):
    root = _copy_tree(ucf_root, tmp_path / "d")
    path = root / "ucfTrainTestlist" / name
    lines = path.read_text().splitlines()
    path.write_text("\r\n".join(edit(lines)) + "\r\n", newline="")
    return root, path


def test_duplicated_class_name_names_file_line_and_name(ucf_root, tmp_path):
    # line 102 repeats "YoYo" (case differs: clip folders are matched case-insensitively)
    root, path = _with_lines(ucf_root, tmp_path, "classInd.txt", lambda ls: [*ls, "102 yoyo"])
    with pytest.raises(ValueError) as err:
        ucf101_source(root, split=1)
    message = str(err.value)
    assert str(path) in message and "line 102" in message and "'yoyo'" in message
    assert "first on line 101" in message


def test_duplicated_class_number_is_an_error(ucf_root, tmp_path):
    root, path = _with_lines(ucf_root, tmp_path, "classInd.txt", lambda ls: [*ls, "101 Extra"])
    with pytest.raises(ValueError, match=r"line 102: class number 101 is duplicated"):
        read_class_index(path)


def test_duplicated_clip_in_a_split_file_is_an_error(ucf_root, tmp_path):
    def repeat_first(lines):
        return [*lines[:3], lines[0].upper(), *lines[3:]]

    root, path = _with_lines(ucf_root, tmp_path, "testlist01.txt", repeat_first)
    with pytest.raises(ValueError) as err:
        ucf101_source(root, split=1)
    message = str(err.value)
    assert str(path) in message and "line 4" in message and "first on line 1" in message
    assert "V_APPLYEYEMAKEUP_G01_C01.AVI" in message


def test_bundled_list_is_checked_too():
    from neuroflow.data.classnames import check_unique_names

    with pytest.raises(ValueError, match=r"names.txt, line 3: class name 'A' is duplicated"):
        check_unique_names([(1, "A"), (2, "B"), (3, "A")], "names.txt")
    check_unique_names(enumerate(ucf101_class_names(), 1), "shipped")
