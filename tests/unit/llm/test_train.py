"""The tiny mini-LM recipe end to end through the CLI: files, reload, split, licences."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from neuroflow.cli.train_lm import main
from neuroflow.llm.corpus import DOMAINS, build_corpus
from neuroflow.llm.lm_export import read_heldout, read_meta
from neuroflow.llm.lm_loop import LMSize, build_model, greedy, lr_factor
from neuroflow.llm.train import PROMPTS, tiny_recipe


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("mini_lm")
    assert main(["--quick", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def meta(run_dir):
    return read_meta(run_dir)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(tiny_recipe().caps)


def test_files_written(run_dir, meta):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "LICENSES.md"):
        assert (run_dir / name).is_file()
    texts = read_heldout(run_dir)
    assert set(texts) == set(DOMAINS) and all(texts.values())
    assert meta["command"].startswith("neuroflow-train-lm --quick")
    assert json.loads((run_dir / "config.json").read_text())["model_type"] == "phi3"


def test_tokenizer_round_trips_heldout_text(run_dir):
    tok = AutoTokenizer.from_pretrained(run_dir)
    for text in [*read_heldout(run_dir).values(), "class A:\n\tdef f(self):\n        pass\n"]:
        assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_reloaded_model_matches_saved_weights_and_trained_model(run_dir, meta):
    loaded = AutoModelForCausalLM.from_pretrained(run_dir).eval()
    size = LMSize(**meta["recipe"]["size"])
    rebuilt = build_model(size, loaded.config.vocab_size, loaded.config.eos_token_id)
    state = load_file(run_dir / "model.safetensors")
    rebuilt.load_state_dict(state, strict=False)
    rebuilt.tie_weights()
    rebuilt.eval()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, loaded.config.vocab_size, (2, 16), generator=gen)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, rebuilt(input_ids=ids).logits)
    # The greedy samples recorded from the in-memory trained model come out of the reload.
    tok = AutoTokenizer.from_pretrained(run_dir)
    for domain, prompt in PROMPTS.items():
        new = meta["recipe"]["sample_tokens"]
        assert greedy(loaded, tok, prompt, new) == meta["samples"][domain]["greedy"]


def test_heldout_split_is_disjoint_from_training(run_dir, corpus):
    train_sources = {d.source for d in corpus.select()}
    held_docs = corpus.select(heldout=True)
    assert held_docs and not train_sources & {d.source for d in held_docs}
    train_text = "\n".join(d.text for d in corpus.select())
    for domain, text in read_heldout(run_dir).items():
        first = text.split("\n\n")[0][:300]
        assert any(first in d.text for d in corpus.select(domain, heldout=True))
        assert first not in train_text


def test_meta_licences_cover_every_source(run_dir, meta, corpus):
    assert set(meta["licences"]) == {d.source for d in corpus.documents}
    listing = (run_dir / "LICENSES.md").read_text()
    assert all(f"`{source}`" in listing for source in meta["licences"])
    for domain in DOMAINS:
        stats = meta["corpus"][domain]
        assert stats["train_files"] > 0 and stats["train_tokens"] > 0


def test_training_learns(meta):
    vocab = meta["recipe"]["vocab_size"]
    assert meta["curve"][-1]["loss"] < meta["curve"][0]["loss"]
    for domain in DOMAINS:
        assert meta["heldout_ppl"][domain] < 0.6 * meta["untrained_ppl_train_slice"][domain]
        assert meta["untrained_ppl_train_slice"][domain] > 0.5 * vocab


def test_lr_schedule_warms_up_then_decays():
    optim = tiny_recipe().optim
    factors = [lr_factor(s, optim) for s in range(optim.steps)]
    assert factors[0] < factors[optim.warmup - 1] == pytest.approx(1.0)
    assert factors[-1] == pytest.approx(optim.min_lr_ratio, abs=0.05)
    decay = factors[optim.warmup :]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
