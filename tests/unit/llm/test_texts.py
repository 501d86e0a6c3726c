"""Texts of the language-model ablation: held-out files, WikiText, drift prompts."""

from __future__ import annotations

import pytest

from neuroflow.llm.loading import byte_tokenizer
from neuroflow.llm.texts import (
    DOMAINS,
    PAPER_PROMPTS,
    TextNotAvailableError,
    TextSettings,
    load_texts,
)


@pytest.fixture
def heldout(tmp_path):
    for i, domain in enumerate(DOMAINS):
        (tmp_path / f"{domain}.txt").write_text(f"{domain} text {i} " * 60)
    return tmp_path


def test_heldout_texts_and_prompts(heldout):
    tok = byte_tokenizer()
    settings = TextSettings(heldout_dir=heldout, prompts_per_domain=3, prompt_tokens=10)
    texts = load_texts(tok, settings)
    assert texts.ppl_domains == list(DOMAINS) == texts.prompt_domains
    assert tok.decode(texts.ppl["code"][:9]) == "code text"
    for domain in DOMAINS:
        first, *windows = texts.prompts[domain]
        assert tok.decode(first) == PAPER_PROMPTS[domain]
        assert len(windows) == 3 and all(len(w) == 10 for w in windows)
    assert tok.decode(texts.latency_prompt) == PAPER_PROMPTS["code"]
    with pytest.raises(ValueError, match="fewer than ppl_tokens"):
        texts.ppl_ids("code", 10_000)


def test_missing_heldout_text_says_where(tmp_path):
    with pytest.raises(TextNotAvailableError, match="no held-out text"):
        load_texts(byte_tokenizer(), TextSettings(heldout_dir=tmp_path))


def test_wikitext_offline_is_an_error_not_a_substitute(heldout, monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(TextNotAvailableError, match="could not load WikiText-103"):
        load_texts(byte_tokenizer(), TextSettings(source="wikitext", heldout_dir=heldout))


def test_wikitext_rows_are_joined(heldout, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: {"text": [" A b ", "", " c\n"]})
    texts = load_texts(byte_tokenizer(), TextSettings(source="wikitext", heldout_dir=heldout))
    assert texts.ppl_domains == ["wikitext"] and texts.prompt_domains == list(DOMAINS)
    assert byte_tokenizer().decode(texts.ppl["wikitext"]) == "A b c"
