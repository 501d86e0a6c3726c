"""neuroflow-distill end to end on the tiny model: results, adapter, resume, DDP, bad input."""

import json
import re
from pathlib import Path

import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException

from neuroflow.lit.run_distill import run_distill
from neuroflow.lit.run_eval import run_eval
from tests.confs import compose_config, compose_eval
from tests.smoke.commands import command

# Seconds-long: tiny random SigLIP, 8 training clips and 4 val/test clips of 3 frames.
TINY = [
    "model=tiny",
    "logger=none",
    "batch_size=2",
    "data.train.size=8",
    "data.val.size=4",
    "data.test.size=4",
    "data.train.num_frames=3",
    "data.val.num_frames=3",
    "data.test.num_frames=3",
    "trainer.val_check_interval=2",
    "trainer.log_every_n_steps=1",
]


def run(tmp_path: Path, overrides: list[str]) -> float:
    cfg = compose_config("distill", TINY + overrides, tmp_path)
    HydraConfig.instance().set_config(cfg)
    return run_distill(cfg, tmp_path)


def test_distill_writes_results_adapter_checkpoint_and_resumes(tmp_path):
    top1 = run(tmp_path, ["trainer.max_steps=4"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["training"]["global_step"] == 4
    rows = {(r["model"], r["path"]): r for r in results["test"]["rows"]}
    assert rows[("student", "operating point")]["top1"] == top1
    assert {p for _, p in rows} == {"dense", "operating point", "k=0.10", "k=0.25", "k=0.50"}
    assert all(r["clips"] == 4 for r in rows.values())
    assert set(results["test"]["before_after"]) == {p for _, p in rows}
    assert [v["step"] for v in results["validation"]] == [2, 4]
    assert results["identity"]["kind"] == "distill" and results["adapter"]["bytes"] > 0
    assert (tmp_path / "adapter.safetensors").is_file() and (tmp_path / "test.csv").is_file()
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert not any(k.startswith("teacher.") for k in ckpt["state_dict"])  # base not stored twice
    assert any("lora_A" in k for k in ckpt["state_dict"])

    run(tmp_path, ["trainer.max_steps=6", "ckpt_path=last"])
    resumed = json.loads((tmp_path / "results.json").read_text())
    assert resumed["training"]["global_step"] == 6  # continued, not restarted
    assert resumed["training"]["resumed_from"].endswith("last.ckpt")
    assert [v["step"] for v in resumed["validation"]] == [2, 4, 6]


def test_the_exported_adapter_evaluates_through_neuroflow_eval(tmp_path):
    run(tmp_path / "distill", ["trainer.max_steps=4", "optim.lr=0.05"])
    results = json.loads((tmp_path / "distill" / "results.json").read_text())
    student = {r["path"]: r for r in results["test"]["rows"] if r["model"] == "student"}
    assert student["dense"]["fidelity_original"] < 0.9999  # training moved the student
    adapter = tmp_path / "distill" / "adapter.safetensors"
    # The evaluator's default clips are the distillation's test clips: the same numbers.
    overrides = ["model=tiny", "logger=none", "dataset.size=4", "dataset.num_frames=3"]
    overrides += ["arch=b", "gate=maxsparse", "callbacks=none", f"model.adapter={adapter}"]
    cfg = compose_eval(overrides, tmp_path / "eval")
    HydraConfig.instance().set_config(cfg)
    assert run_eval(cfg, tmp_path / "eval") == student["operating point"]["top1"]
    evaluated = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert evaluated["dense"]["top1"]["acc"] == student["dense"]["top1"]
    assert evaluated["fidelity"] == pytest.approx(
        student["operating point"]["fidelity_dense"], abs=1e-4
    )
    assert evaluated["identity"]["model"]["adapter_sha256"]


def test_resume_without_a_checkpoint_says_where_to_look(tmp_path):
    with pytest.raises(FileNotFoundError, match="hydra.run.dir=<that run> ckpt_path=last"):
        run(tmp_path, ["trainer.max_steps=2", "ckpt_path=last"])


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    run(tmp_path / "a", ["trainer.max_steps=2"])
    ckpt = tmp_path / "a" / "checkpoints" / "last.ckpt"
    with pytest.raises(ValueError, match="checkpoint base .* does not match"):
        run(tmp_path / "b", ["trainer.max_steps=4", "model=mini_siglip", f"ckpt_path={ckpt}"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("curriculum.threshold=[0.1,2.5]", "outside the gate's valid range"),
        ("curriculum.ema_decay=[0.0,0.1]", "outside the gate's valid range"),
        ("trainable.lora_targets=[no_such_module]", "no_such_module"),
        ("trainable.extra=[head.nothing*]", "head.nothing"),
        ("teacher_source=tiny-clip", "teacher .* and student .* differ"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, override, message):
    # Errors raised while Hydra builds a config's object come wrapped (the CLI unwraps them).
    with pytest.raises((ValueError, InstantiationException), match=message):
        run(tmp_path, ["trainer.max_steps=1", override])


def test_ddp_with_two_cpu_processes(tmp_path):
    # 5 test clips on 2 processes: the sampler pads a shard with a repeat, counted once.
    args = [*TINY, "trainer=ddp", "trainer.devices=2", "trainer.max_steps=2", "data.test.size=5"]
    done = command("neuroflow-distill", [*args, f"hydra.run.dir={tmp_path}"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "distill.log").read_text()
    assert sorted(set(re.findall(r"GLOBAL_RANK: (\d)", log))) == ["0", "1"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["training"]["world_size"] == 2 and results["training"]["global_step"] == 2
    assert all(r["clips"] == 5 for r in results["test"]["rows"])
