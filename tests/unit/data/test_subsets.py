"""Seeded stratified subsets and clip lists that reproduce a subset exactly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from neuroflow.data import ClipRef, ClipSource, load_clip_list, save_clip_list, stratified_subset
from neuroflow.data.factory import subset_source


def _pool(seed: int = 0) -> list[ClipRef]:
    """A UCF-101-sized pool: 101 classes with 25-49 clips each (like split-1 test, 3,783)."""
    import numpy as np

    counts = np.random.default_rng(seed).integers(25, 50, 101)
    return [
        ClipRef(f"C{c}/v_{i}.avi", Path(f"/x/C{c}/v_{i}.avi"), c)
        for c in range(101)
        for i in range(counts[c])
    ]


@pytest.mark.parametrize("size", [400, 500, 800])
def test_subset_is_stratified_and_seeded(size):
    pool = _pool()
    subset = stratified_subset(pool, size, seed=0)
    assert len(subset) == size == len({c.clip_id for c in subset})
    assert stratified_subset(pool, size, seed=0) == subset  # same seed, same clips
    assert stratified_subset(pool, size, seed=1) != subset
    have, total = Counter(c.label for c in subset), Counter(c.label for c in pool)
    for label, n in total.items():
        assert abs(have[label] - size * n / len(pool)) < 1  # proportional to the pool
    positions = {c.clip_id: i for i, c in enumerate(pool)}
    assert [positions[c.clip_id] for c in subset] == sorted(positions[c.clip_id] for c in subset)


def test_subset_size_bounds():
    with pytest.raises(ValueError, match="1..10"):
        stratified_subset(_pool()[:10], 11)
    assert len(stratified_subset(_pool()[:10], 10)) == 10


def test_clip_list_roundtrip(tmp_path):
    clips = stratified_subset(_pool(), 50, seed=3)
    path = save_clip_list(tmp_path / "run" / "clips.json", clips, {"seed": 3})
    ids, meta = load_clip_list(path)
    assert ids == [c.clip_id for c in clips] and meta == {"seed": 3}
    assert json.loads(path.read_text())["clips"][0]["label"] == clips[0].label
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a neuroflow clip list"):
        load_clip_list(tmp_path / "bad.json")


def test_subset_source_writes_then_reuses_the_list(tmp_path):
    source = ClipSource(_pool(), meta={"source": "fake"})
    path = tmp_path / "subset.json"
    first = subset_source(source, 100, seed=0, clip_list=path)
    assert path.is_file() and first.meta["subset"] == {"size": 100, "seed": 0}
    again = subset_source(source, 300, seed=9, clip_list=path)  # the saved list wins
    assert again.clips == first.clips
    smaller = ClipSource([c for c in source.clips if c != first.clips[0]])
    reused = subset_source(smaller, None, clip_list=path)
    assert len(reused.clips) == 99
    assert reused.skipped[0]["clip_id"] == first.clips[0].clip_id  # recorded, not dropped


def test_clip_list_with_a_repeated_id_is_an_error(tmp_path):
    path = save_clip_list(tmp_path / "list.json", _pool()[:3])
    payload = json.loads(path.read_text())
    payload["clips"].append(payload["clips"][1])
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=r"list.json: clip .* is listed twice \(entries 1 and 3"):
        load_clip_list(path)
