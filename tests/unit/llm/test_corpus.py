"""The mini-LM corpus: three domains, permissive licences, a split by file that never leaks."""

from __future__ import annotations

from email.message import Message

import pytest

from neuroflow.llm.corpus import (
    DOMAINS,
    STRUCTURED_SUFFIXES,
    CorpusCaps,
    build_corpus,
    clean_text,
    docstrings,
    is_heldout,
)
from neuroflow.llm.lm_licence import distribution_licence, is_permissive

CAPS = CorpusCaps(train_chars=30_000, heldout_chars=8_000, doc_chars=6_000)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(CAPS)


def test_every_domain_has_both_splits_within_caps(corpus):
    stats = corpus.stats()
    for domain in DOMAINS:
        assert stats[domain]["train_files"] > 0 and stats[domain]["heldout_files"] > 0
        # A cap stops the domain after the document that crosses it.
        assert stats[domain]["train_chars"] < CAPS.train_chars + CAPS.doc_chars
        assert stats[domain]["heldout_chars"] < CAPS.heldout_chars + CAPS.doc_chars


def test_split_is_by_source_and_disjoint(corpus):
    train = {d.source for d in corpus.select()}
    held = {d.source for d in corpus.select(heldout=True)}
    assert train and held and not train & held
    for doc in corpus.documents:
        key = doc.source.split(":", 1)[1].split("#")[0]
        if doc.distribution.startswith("CPython") and "topics.py" not in key:
            # Code and docstrings of one module share the module path as split key.
            assert doc.heldout == is_heldout(key, CAPS.heldout_percent)


def test_corpus_is_deterministic(corpus):
    again = build_corpus(CAPS)
    assert [(d.source, d.heldout, d.text) for d in again.documents] == [
        (d.source, d.heldout, d.text) for d in corpus.documents
    ]


def test_sources_have_permissive_licences_and_right_formats(corpus):
    licences = corpus.licences()
    assert set(licences) == {d.source for d in corpus.documents}
    assert all(is_permissive(lic) for lic in licences.values())
    for doc in corpus.select("structured") + corpus.select("structured", heldout=True):
        assert doc.source.lower().endswith(STRUCTURED_SUFFIXES)
        assert not doc.distribution.startswith("CPython")
    for doc in corpus.select("code"):
        assert doc.source.endswith(".py") and "/test/" not in doc.source


def test_clean_text_rejects_junk_and_cuts_at_a_line_break():
    caps = CorpusCaps(doc_chars=20, max_line=30)
    assert clean_text(b"a\x00b", caps) is None
    assert clean_text(b"\xff\xfe", caps) is None
    assert clean_text(b'{"a": ' + b"1," * 40 + b"}", caps) is None  # minified
    assert clean_text(b"line one\r\nline two\nline three\n", caps) == "line one\nline two\n"


def test_docstrings_are_extracted_without_running_code():
    src = 'import os\n"""Not a docstring."""\ndef f():\n    """' + "Explains f. " * 5 + '"""\n'
    assert docstrings(src).startswith("Explains f.")
    assert docstrings("def broken(:\n") == ""


def test_permissive_check():
    assert is_permissive("MIT")
    assert is_permissive("Apache-2.0 AND Apache-2.0 WITH LLVM-exception AND BSD-3-Clause")
    assert not is_permissive("GPL-3.0-only")
    assert not is_permissive("MIT AND LGPL-2.1-or-later")
    assert not is_permissive(None)


class _FakeDist:
    def __init__(self, **fields):
        self.metadata = Message()
        for name, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                self.metadata[name.replace("_", "-")] = item


def test_licence_from_metadata_prefers_expression_then_classifiers():
    assert distribution_licence(_FakeDist(License_Expression="BSD-3-Clause")) == "BSD-3-Clause"
    long_text = "License agreement for matplotlib versions 1.3.0 and later\n====="
    psf = "License :: OSI Approved :: Python Software Foundation License"
    assert distribution_licence(_FakeDist(License=long_text, Classifier=[psf])) == "PSF-2.0"
    assert distribution_licence(_FakeDist(License="Apache 2.0")) == "Apache-2.0"
    assert distribution_licence(_FakeDist(License=long_text)) is None
