"""Byte-level BPE for the mini LM, trained on the corpus and wrapped for ``transformers``.

Byte-level (GPT-2 style) so every string, including indentation, tabs and non-ASCII
characters, encodes and decodes back exactly; no normaliser and no added prefix space,
because code and data must survive the round trip unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

EOS = "<|endoftext|>"


def train_bpe(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2) -> Tokenizer:
    """A byte-level BPE ``tokenizers.Tokenizer`` learned from ``texts``.

    Args:
        texts: Training documents (held-out text must not be among them).
        vocab_size: Final vocabulary size, including the 256 byte symbols and ``EOS``.
        min_frequency: Pairs seen fewer times are not merged.

    Returns:
        The trained tokenizer; ``EOS`` has id 0.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def wrap_tokenizer(tok: Tokenizer, max_length: int) -> PreTrainedTokenizerFast:
    """``tok`` as a ``PreTrainedTokenizerFast`` with ``EOS`` as bos, eos and pad token.

    Args:
        tok: A tokenizer from :func:`train_bpe`.
        max_length: The model's context length (``model_max_length``).
    """
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOS,
        eos_token=EOS,
        pad_token=EOS,
        model_max_length=max_length,
        clean_up_tokenization_spaces=False,
    )


def build_tokenizer(
    texts: Iterable[str], vocab_size: int = 4096, max_length: int = 256
) -> PreTrainedTokenizerFast:
    """Train (:func:`train_bpe`) and wrap (:func:`wrap_tokenizer`) in one call."""
    return wrap_tokenizer(train_bpe(texts, vocab_size), max_length)
