"""The shipped mini LM (``neuroflow/assets/mini_lm``): layout, tokenizer, held-out ppl."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Phi3ForCausalLM

import neuroflow
from neuroflow.llm.corpus import DOMAINS
from neuroflow.llm.lm_export import read_heldout, read_meta
from neuroflow.llm.lm_licence import is_permissive
from neuroflow.llm.lm_loop import windowed_perplexity
from neuroflow.llm.train import LMRecipe, heldout_perplexities

SHIPPED = Path(neuroflow.__file__).parent / "assets" / "mini_lm"


@pytest.fixture(scope="module")
def meta():
    torch.set_num_threads(1)
    return read_meta(SHIPPED)


def test_layout_is_phi3_with_recorded_layers(meta):
    model = AutoModelForCausalLM.from_pretrained(SHIPPED)
    assert isinstance(model, Phi3ForCausalLM) and model.config.model_type == "phi3"
    layers = meta["recipe"]["size"]["layers"]
    assert model.config.num_hidden_layers == layers == len(model.model.layers) >= 8
    assert all(hasattr(layer, "self_attn") for layer in model.model.layers)
    assert model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert (SHIPPED / "model.safetensors").stat().st_size < 20e6


def test_tokenizer_round_trips_heldout_samples():
    tok = AutoTokenizer.from_pretrained(SHIPPED)
    assert len(tok) == AutoModelForCausalLM.from_pretrained(SHIPPED).config.vocab_size
    for text in read_heldout(SHIPPED).values():
        assert 30_000 <= len(text.encode()) <= 60_000
        piece = text[:8000]
        assert tok.decode(tok(piece, add_special_tokens=False)["input_ids"]) == piece


def test_heldout_perplexity_is_reproduced_and_far_below_untrained(meta):
    check = heldout_perplexities(SHIPPED, read_heldout(SHIPPED), meta["recipe"]["check_tokens"])
    model = AutoModelForCausalLM.from_pretrained(SHIPPED)
    untrained = type(model)(model.config).eval()  # same layout, random weights
    tok = AutoTokenizer.from_pretrained(SHIPPED)
    context = model.config.max_position_embeddings
    for domain in DOMAINS:
        assert check[domain] == pytest.approx(meta["heldout_ppl_check"][domain], rel=1e-4)
        text = read_heldout(SHIPPED)[domain]
        ids = torch.tensor(tok(text, add_special_tokens=False)["input_ids"][:512])
        random_ppl = windowed_perplexity(untrained, ids, context)
        assert random_ppl > 0.5 * model.config.vocab_size
        assert check[domain] < random_ppl / 20


def test_licences_recorded_and_permissive(meta):
    assert meta["licences"] and all(is_permissive(v) for v in meta["licences"].values())
    listing = (SHIPPED / "LICENSES.md").read_text()
    assert all(f"`{source}`" in listing for source in meta["licences"])


def test_shipped_model_was_made_by_the_default_recipe(meta):
    assert meta["recipe"] == json.loads(json.dumps(asdict(LMRecipe())))
