"""Load a causal LM and its tokenizer by name: the shipped mini LM, tiny random ones, a hub id.

- ``"mini_lm"``: the project-trained Phi-3-style LM shipped in ``neuroflow/assets/mini_lm``
  (``neuroflow-train-lm --ship`` rebuilds it);
- ``"tiny-phi3"``, ``"tiny-gpt2"``, ``"tiny-llama"``: random few-thousand-parameter models
  with a byte tokenizer (tests, timing; their outputs mean nothing);
- anything else: a local directory written by ``save_pretrained`` or a hub id (e.g.
  ``microsoft/Phi-3-mini-4k-instruct``); offline, an uncached hub id fails with a message that
  says how to fetch it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Phi3Config,
    Phi3ForCausalLM,
    PreTrainedTokenizerFast,
)

import neuroflow
from neuroflow.models.errors import ModelNotAvailableError
from neuroflow.models.loading import offline_message

MINI_LM_DIR = Path(neuroflow.__file__).resolve().parent / "assets" / "mini_lm"
EOS = "<|endoftext|>"
_TINY = dict(
    hidden_size=32,
    num_attention_heads=4,
    num_hidden_layers=4,
    vocab_size=257,
    intermediate_size=64,
    max_position_embeddings=512,
    pad_token_id=256,
    bos_token_id=256,
    eos_token_id=256,
)


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A 257-token byte-level tokenizer (256 bytes + ``<|endoftext|>``), no training needed."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    vocab[EOS] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=EOS, bos_token=EOS, pad_token=EOS
    )


_TINY_MODELS = {  # one byte-token id (256) for bos / eos / pad, as byte_tokenizer()
    "tiny-phi3": lambda: Phi3ForCausalLM(Phi3Config(**_TINY)),
    "tiny-llama": lambda: LlamaForCausalLM(LlamaConfig(**_TINY, num_key_value_heads=2)),
    "tiny-gpt2": lambda: GPT2LMHeadModel(
        GPT2Config(
            n_embd=32,
            n_head=4,
            n_layer=4,
            vocab_size=257,
            n_positions=512,
            bos_token_id=256,
            eos_token_id=256,
        )
    ),
}


def _tiny(name: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _TINY_MODELS[name]()


TINY_SOURCES = tuple(_TINY_MODELS)
SOURCES = ("mini_lm", *TINY_SOURCES)


def load_causal_lm(
    source: str | Path = "mini_lm",
    *,
    dtype: torch.dtype | str | None = None,
    attn_implementation: str = "eager",
    seed: int = 0,
) -> tuple[nn.Module, PreTrainedTokenizerFast]:
    """``(model, tokenizer)`` for a named source, a local directory or a hub id; eval mode.

    Args:
        source: ``"mini_lm"``, a tiny random source, a directory or a hub id.
        dtype: Weight dtype (default: as saved; float32 for the built-ins).
        attn_implementation: HF attention kernel (``"eager"`` like the paper, or ``"sdpa"``).
        seed: Seed of the tiny random sources.

    Raises:
        ModelNotAvailableError: The model cannot be read (missing directory, hub id not cached
            while offline); the message says what to do.
    """
    if str(source) in TINY_SOURCES:
        model, tokenizer = _tiny(str(source), seed), byte_tokenizer()
        model.config._attn_implementation = attn_implementation
    else:
        path = MINI_LM_DIR if str(source) == "mini_lm" else source
        model, tokenizer = _from_pretrained(path, dtype, attn_implementation)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval(), tokenizer


def _from_pretrained(source, dtype, attn_implementation):
    path = Path(source).expanduser()
    is_local = path.exists()
    if str(source) == str(MINI_LM_DIR) and not (path / "config.json").is_file():
        raise ModelNotAvailableError(
            f"the shipped mini LM is missing from {path}; "
            "rebuild it with `neuroflow-train-lm --ship`"
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(path) if is_local else str(source),
            dtype=dtype,
            attn_implementation=attn_implementation,
        )
        tokenizer = AutoTokenizer.from_pretrained(str(path) if is_local else str(source))
    except (OSError, ValueError) as err:
        raise ModelNotAvailableError(_message(str(source), is_local, err)) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _message(source: str, is_local: bool, err: Exception) -> str:
    if is_local:
        return f"could not read causal-LM directory {source}: {type(err).__name__}: {err}"
    return offline_message(source, err, what="causal LM", known=list(SOURCES), key="lm.source")
