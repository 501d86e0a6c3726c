"""Run identity: what it records, what its key ignores, what it never records."""

import subprocess

import pytest
import torch

from neuroflow import identity as ident
from neuroflow.identity import (
    bench_identity,
    git_state,
    is_secret_key,
    run_identity,
    run_label,
    scrub_secrets,
    weights_hash,
)

CONFIG = {
    "arch": {"_target_": "neuroflow.archs.make_arch", "name": "C"},
    "gate": {"_target_": "neuroflow.core.gate.GateConfig", "threshold": 0.2, "ema_decay": 0.01},
    "schedule": {"_target_": "neuroflow.core.schedules.Constant"},
    "dataset": {"_target_": "neuroflow.lit.datasets.MovingGlyphs", "size": 8},
    "model": {"source": "tiny-siglip", "threads": 1},
    "seed": 0,
}


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("hf_token", True),
        ("WANDB_API_KEY", True),
        ("apikey", True),
        ("password", True),
        ("access-key", True),
        ("client_secret", True),
        ("floor_tokens", False),
        ("tokenizer", False),
        ("keep_fraction", False),
        ("key", False),
    ],
)
def test_secret_keys(key, secret):
    assert is_secret_key(key) is secret


def test_secrets_are_dropped_at_any_depth():
    clean = scrub_secrets({"model": {"source": "x", "hf_token": "abc"}, "list": [{"password": 1}]})
    assert clean == {"model": {"source": "x"}, "list": [{}]}
    assert scrub_secrets({"note": "hf_" + "a" * 34}) == {"note": "<redacted>"}
    recorded = run_identity({**CONFIG, "model": {"source": "m", "token": "t"}})
    assert "token" not in recorded["model"]


def test_key_ignores_provenance_and_speed_settings(monkeypatch):
    first = run_identity(CONFIG)
    monkeypatch.setattr(ident, "git_state", lambda: ("f" * 40, False))
    again = run_identity({**CONFIG, "model": {"source": "tiny-siglip", "threads": 4}})
    assert again["git_commit"] == "f" * 40 and again["identity_key"] == first["identity_key"]
    assert "threads" not in again["model"]
    changed = run_identity({**CONFIG, "gate": {**CONFIG["gate"], "threshold": 0.3}})
    assert changed["identity_key"] != first["identity_key"]


def test_records_method_schedule_dataset_and_version():
    recorded = run_identity(CONFIG)
    assert recorded["method"] == {"name": "C"} and recorded["schedule"] == {"type": "Constant"}
    assert recorded["dataset"]["name"] == "MovingGlyphs" and recorded["dataset"]["size"] == 8
    assert recorded["neuroflow_version"] and len(recorded["identity_key"]) == 12
    chosen = run_identity(CONFIG, choices={"dataset": "moving_glyphs"})
    assert chosen["dataset"]["name"] == "moving_glyphs"


def test_git_state_of_this_checkout_and_without_git(monkeypatch):
    commit, dirty = git_state()
    assert commit is None or (len(commit) == 40 and isinstance(dirty, bool))

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    git_state.cache_clear()
    monkeypatch.setattr(subprocess, "run", no_git)
    try:
        assert git_state() == (None, None)
    finally:
        git_state.cache_clear()


def test_weights_hash_of_a_module_and_of_a_directory(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    first, how = weights_hash("hub/id", model)
    assert how == "parameters" and len(first) == 16
    with torch.no_grad():
        model.weight[0, 0] += 1
    assert weights_hash("hub/id", model)[0] != first
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    digest, how = weights_hash(str(tmp_path), model)
    assert how == "files" and digest == weights_hash(str(tmp_path))[0]
    assert weights_hash("hub/id") == (None, None)
    assert weights_hash("mini_siglip")[1] == "files"


def test_bench_identity_and_labels():
    settings = {"model": "random:siglip-b16", "dtype": "float32", "device": "cpu"}
    settings |= {"resolutions": [224, 448], "profile": True, "gate": {"threshold": 0.35}}
    recorded = bench_identity({"random_weights": True, "cpu": "x86", "host": "h"}, settings)
    assert recorded["model"]["random_weights"] is True and recorded["machine"] == {"cpu": "x86"}
    assert "profile" not in recorded and recorded["gate"] == {"threshold": 0.35}
    assert run_label(recorded) == "bench random:siglip-b16 224,448px"
    label = run_label(run_identity(CONFIG, choices={"dataset": "moving_glyphs"}))
    assert label == "eval C θ=0.20 α=0.01 tiny-siglip moving_glyphs"
