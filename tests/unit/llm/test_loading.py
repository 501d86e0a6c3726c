"""Loading causal LMs by name, directory or hub id."""

from __future__ import annotations

import pytest
import torch

from neuroflow.llm.loading import byte_tokenizer, load_causal_lm
from neuroflow.models.errors import ModelNotAvailableError


@pytest.mark.parametrize(
    ("name", "model_type"), [("tiny-phi3", "phi3"), ("tiny-gpt2", "gpt2"), ("tiny-llama", "llama")]
)
def test_tiny_sources(name, model_type):
    model, tok = load_causal_lm(name)
    assert model.config.model_type == model_type and not model.training
    assert model(torch.tensor([tok("ab")["input_ids"]])).logits.shape[-1] == len(tok)


def test_byte_tokenizer_round_trips_any_text():
    tok = byte_tokenizer()
    text = "def f(x):\n\treturn {'é': x}  # ✓\n"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.eos_token_id == 256 == len(tok) - 1


def test_saved_directory_reloads(tmp_path):
    model, tok = load_causal_lm("tiny-phi3")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    again, tok2 = load_causal_lm(tmp_path)
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(again(ids).logits, model(ids).logits)
    assert tok2.decode(tok2("x = 1")["input_ids"]) == "x = 1"


def test_uncached_hub_id_offline_says_how_to_fetch_it():
    with pytest.raises(
        ModelNotAvailableError, match="hf download microsoft/Phi-3-mini-4k-instruct"
    ):
        load_causal_lm("microsoft/Phi-3-mini-4k-instruct")


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(ModelNotAvailableError):
        load_causal_lm(tmp_path / "nowhere" / "model")
