"""The ablation's work plan on a tiny model: rows, exactness above θ = 1, unsupported rows."""

from __future__ import annotations

import pytest

from neuroflow.llm.loading import load_causal_lm
from neuroflow.llm.study import LMStudy, StudySettings
from neuroflow.llm.texts import DOMAINS, TextSettings, load_texts

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heldout")
    for domain in DOMAINS:
        (folder / f"{domain}.txt").write_text(f"{domain}: some held-out text. " * 30)
    model, tokenizer = load_causal_lm("tiny-phi3")
    texts = load_texts(
        tokenizer, TextSettings(heldout_dir=str(folder), prompts_per_domain=0, prompt_tokens=12)
    )
    settings = StudySettings(
        pairs={"bridge": [1, 3], "inverted": [1, 0]},
        thresholds=[1.01, -1.0],
        kv_modes=["advance", "hole"],
        ppl_tokens=80,
        ppl_warmup=16,
        drift_steps=6,
        latency_thresholds=[-1.0],
        latency_steps=4,
        latency_repeats=1,
    )
    return LMStudy(model, texts, settings)


@pytest.fixture(scope="module")
def rows(study):
    return {
        (w.table, tuple(sorted(w.key.items(), key=str))): (w.key, w.run()) for w in study.plan()
    }


def _find(rows, table, **key):
    return [r for (t, _), (k, r) in rows.items() if t == table and key.items() <= k.items()]


def test_plan_has_every_row(rows):
    tables = [t for t, _ in rows]
    assert tables.count("similarity") == 1
    per_domain = 1 + 2 * 2 * 2  # dense + pairs × kv × thresholds
    assert tables.count("perplexity") == tables.count("drift") == 3 * per_domain
    assert tables.count("latency") == 2  # latency_pairs [bridge] × kv modes


def test_never_firing_rows_equal_dense_exactly(rows):
    for domain in DOMAINS:
        dense_ppl = _find(rows, "perplexity", domain=domain, config="dense")[0]["ppl"]
        for row in _find(rows, "perplexity", domain=domain, threshold=1.01, kv="advance"):
            assert row["ppl"] == dense_ppl and row["delta_ppl"] == 0 and row["bypass_rate"] == 0
            assert row["delta_ppl_pct_low"] == row["delta_ppl_pct_high"] == 0
        for row in _find(rows, "drift", domain=domain, threshold=1.01, kv="advance"):
            assert row["drift"] == 0 and row["identical_share"] == 1


def test_always_firing_rows_bypass_every_decode_step(rows):
    for row in _find(rows, "perplexity", config="bridge", threshold=-1.0):
        assert row["bypass_rate"] == 1.0
        assert row["delta_ppl_pct_low"] <= row["delta_ppl_pct"] <= row["delta_ppl_pct_high"]
        assert row["delta_ppl_pct_low"] < row["delta_ppl_pct_high"]
    drift = _find(rows, "drift", config="bridge", threshold=-1.0, kv="advance")
    assert all(r["bypass_rate"] == 1.0 and r["entropy_fresh"] is None for r in drift)


def test_hole_at_layer_zero_is_a_not_run_row(rows):
    found = _find(rows, "perplexity", config="inverted", kv="hole")
    assert found and all(r["status"] == "not run" and "layer 0" in r["reason"] for r in found)


def test_latency_rows_time_both_paths(rows):
    for row in _find(rows, "latency", kv="advance"):
        assert row["dense_ms"] > 0 and row["bypass_ms"] > 0
        assert row["speedup"] == pytest.approx(row["dense_ms"] / row["bypass_ms"])


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown table"):
        StudySettings(tables=["speed"])
    with pytest.raises(ValueError, match="latency_pairs"):
        StudySettings(latency_pairs=["deep"])


def test_perplexity_is_scored_in_windows_of_the_model_context(study):
    model = load_causal_lm("tiny-phi3")[0]
    model.config.max_position_embeddings = 40
    settings = StudySettings(
        tables=["perplexity"], pairs={"bridge": [1, 3]}, ppl_tokens=80, ppl_warmup=16
    )
    windowed = LMStudy(model, study.texts, settings)
    dense = windowed.plan()[0]
    assert dense.key["config"] == "dense"
    assert dense.run()["tokens"] == 2 * (40 - 16)  # two windows, each with its own warmup
    bypass = next(w for w in windowed.plan() if w.key["config"] == "bridge").run()
    assert bypass["tokens"] == 48 and 0 <= bypass["bypass_rate"] <= 1


def test_drift_longer_than_the_context_is_refused(study):
    model = load_causal_lm("tiny-phi3")[0]
    model.config.max_position_embeddings = 16
    with pytest.raises(ValueError, match="exceed the model's context"):
        LMStudy(model, study.texts, StudySettings(pairs={"bridge": [1, 3]}, drift_steps=10))
