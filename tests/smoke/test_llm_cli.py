"""neuroflow-llm end to end on a tiny random GPT-2: tables, files, resume, bad input.

Bad keys fail at compose (tests/config); the one-line CLI error is the shared app's (tested
through neuroflow-eval)."""

import json
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from neuroflow.cli.llm import run
from neuroflow.llm.texts import DOMAINS
from neuroflow.models.errors import ModelNotAvailableError
from tests.confs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = [
    "lm=tiny_gpt2",
    "text.prompts_per_domain=1",
    "text.prompt_tokens=8",
    "drift_steps=6",
    "ppl_tokens=72",
    "ppl_warmup=8",
    "thresholds=[0.5]",
    "latency_steps=3",
    "latency_repeats=1",
]


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("heldout")
    for domain in DOMAINS:
        (folder / f"{domain}.txt").write_text(f"{domain}: held-out text for the smoke run. " * 12)
    return str(folder)


def _run(run_dir: Path, heldout: str, extra: list[str] = ()) -> dict:
    cfg = compose_config("llm", [*TINY, f"text.heldout_dir={heldout}", *extra], run_dir)
    HydraConfig.instance().set_config(cfg)
    return run(cfg, run_dir)


def test_llm_writes_every_table_and_resumes(tmp_path, heldout, capsys):
    counts = _run(tmp_path, heldout)
    assert counts == {"similarity": 4, "perplexity": 3 * 5, "drift": 3 * 5, "latency": 2}
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["identity"]["kind"] == "llm"
    assert results["identity"]["model"]["source"] == "tiny-gpt2"
    for name in ("similarity", "perplexity", "drift", "latency"):
        assert (tmp_path / f"{name}.csv").is_file()
    assert (tmp_path / "similarity.png").is_file() and (
        tmp_path / "drift_vs_threshold.png"
    ).is_file()
    assert "## drift" in (tmp_path / "results.md").read_text()
    inverted_hole = [
        r
        for r in results["tables"]["perplexity"]
        if r["config"] == "inverted" and r["kv"] == "hole"
    ]
    assert inverted_hole and all(r["status"] == "not run" for r in inverted_hole)

    before = (tmp_path / "rows.jsonl").read_text()
    _run(tmp_path, heldout)  # every row is on disk: nothing is recomputed
    assert "resuming" in capsys.readouterr().out
    assert (tmp_path / "rows.jsonl").read_text() == before
    assert json.loads((tmp_path / "results.json").read_text())["tables"] == results["tables"]
    with pytest.raises(ValueError, match="other settings"):
        _run(tmp_path, heldout, ["drift_steps=7"])


def test_offline_hub_model_fails_with_the_download_command(tmp_path):
    cfg = compose_config("llm", ["lm=phi3_mini", "lm.device=cpu"], tmp_path)
    HydraConfig.instance().set_config(cfg)
    with pytest.raises(
        ModelNotAvailableError, match="hf download microsoft/Phi-3-mini-4k-instruct"
    ):
        run(cfg, tmp_path)
