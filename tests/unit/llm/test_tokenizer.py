"""Byte-level BPE: exact round trip (indentation, tabs, unicode) and save / Auto reload."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from neuroflow.llm.tokenizer import EOS, build_tokenizer

TEXTS = [
    "def add(a, b):\n    return a + b\n\n\nclass Point:\n    x: int = 0\n",
    '{"name": "demo", "values": [1, 2.5, null], "nested": {"ok": true}}\n',
    "name,value\nalpha,1\nbeta,2\n",
    "The for statement iterates over the items of any sequence, in order.\n",
] * 20

TRICKY = "if x:\n\tif y:\n        z = 'é ü 日本 ✓'   \r\n\n\n    # done  \n"


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(TEXTS, vocab_size=400, max_length=64)


def test_round_trip_is_exact(tok):
    for text in [*TEXTS[:4], TRICKY, "   leading spaces", ""]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text


def test_special_token_and_sizes(tok):
    assert tok.eos_token == tok.bos_token == tok.pad_token == EOS
    assert tok.eos_token_id == 0
    assert len(tok) <= 400
    # Merges were learned: frequent code needs fewer tokens than bytes.
    assert len(tok(TEXTS[0])["input_ids"]) < len(TEXTS[0].encode()) / 2
    # No special tokens are added implicitly.
    assert EOS not in tok.decode(tok("a b")["input_ids"])


def test_save_and_auto_reload(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again.eos_token_id == tok.eos_token_id
    assert again.model_max_length == 64
    ids = again(TRICKY)["input_ids"]
    assert ids == tok(TRICKY)["input_ids"]
    assert again.decode(ids) == TRICKY
