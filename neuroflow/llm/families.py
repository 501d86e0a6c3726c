"""Where a causal LM keeps its decoder layers and how one attention block projects keys/values.

The bypass needs two things per model family: the list of decoder layers (to find the gate
and cache layers' attention modules) and a way to compute *only* the new token's keys and
values of one attention block (the paper's bypass advances the KV cache without running the
attention itself or the output projection). Both are small functions of the HF module layout,
so supporting another family is one :class:`Family` entry.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

KeysValues = Callable[[nn.Module, torch.Tensor, dict], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Family:
    """How one HF causal-LM family is laid out.

    Attributes:
        name: Family name (the HF ``model_type`` values it covers are the registry keys).
        decoder: ``decoder(model)``: the base model that runs the layers (its forward sees
            the input ids and the KV cache of every step).
        layers: Attribute name of the decoder's ``nn.ModuleList`` of layers.
        attention: Attribute name of the attention module on a decoder layer.
        keys_values: ``keys_values(attention, hidden_states, kwargs) -> (k, v)``, each
            ``[B, kv_heads, q_len, head_dim]`` exactly as the module would write them into
            its cache (RoPE applied where the family uses it).
    """

    name: str
    decoder: Callable[[nn.Module], nn.Module]
    layers: str
    attention: str
    keys_values: KeysValues

    def decoder_layers(self, model: nn.Module) -> nn.ModuleList:
        """The decoder layers of ``model``."""
        return getattr(self.decoder(model), self.layers)


def _heads(x: torch.Tensor, head_dim: int) -> torch.Tensor:
    return x.view(*x.shape[:-1], -1, head_dim).transpose(1, 2)


def _rotate_keys(attention: nn.Module, keys: torch.Tensor, kwargs: dict) -> torch.Tensor:
    # The module's own RoPE function, so the cached keys match a dense step bit for bit
    # (it rotates queries and keys together; keys stand in for the queries here).
    rope = sys.modules[type(attention).__module__].apply_rotary_pos_emb
    cos, sin = kwargs["position_embeddings"]
    return rope(keys, keys, cos, sin)[1]


def _phi3_keys_values(attention: nn.Module, hidden: torch.Tensor, kwargs: dict):
    config, head_dim = attention.config, attention.head_dim
    query_size = config.num_attention_heads * head_dim
    # Only the key/value rows of the fused projection: the query is not needed.
    kv = F.linear(hidden, attention.qkv_proj.weight[query_size:])
    keys, values = kv.split(attention.num_key_value_heads * head_dim, dim=-1)
    keys = _rotate_keys(attention, _heads(keys, head_dim), kwargs)
    return keys, _heads(values, head_dim)


def _llama_keys_values(attention: nn.Module, hidden: torch.Tensor, kwargs: dict):
    head_dim = attention.head_dim
    keys, values = (
        _heads(attention.k_proj(hidden), head_dim),
        _heads(attention.v_proj(hidden), head_dim),
    )
    if hasattr(attention, "k_norm"):  # Qwen3-style per-head key norm, applied before RoPE
        keys = attention.k_norm(keys.transpose(1, 2)).transpose(1, 2)
    return _rotate_keys(attention, keys, kwargs), values


def _gpt2_keys_values(attention: nn.Module, hidden: torch.Tensor, kwargs: dict):
    width = attention.split_size
    # Conv1D stores the weight as [in, out]; take the key and value columns only.
    weight, bias = attention.c_attn.weight[:, width:], attention.c_attn.bias[width:]
    kv = torch.addmm(bias, hidden.reshape(-1, hidden.shape[-1]), weight)
    keys, values = kv.view(*hidden.shape[:-1], 2 * width).split(width, dim=-1)
    return _heads(keys, attention.head_dim), _heads(values, attention.head_dim)


def _model(m: nn.Module) -> nn.Module:
    return m.model


_DECODER = Family("decoder", _model, "layers", "self_attn", _llama_keys_values)
FAMILIES: dict[str, Family] = {
    "phi3": Family("phi3", _model, "layers", "self_attn", _phi3_keys_values),
    "gpt2": Family("gpt2", lambda m: m.transformer, "h", "attn", _gpt2_keys_values),
    "llama": _DECODER,
    "mistral": _DECODER,
    "qwen2": _DECODER,
}


def family_of(model: nn.Module) -> Family:
    """The :class:`Family` of an HF causal LM, from ``model.config.model_type``.

    Raises:
        ValueError: The family is not supported (the message lists the supported ones).
    """
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in FAMILIES:
        raise ValueError(
            f"attention bypass supports the model types {sorted(FAMILIES)}; got {model_type!r} "
            "(add a neuroflow.llm.families.Family entry for another layout)"
        )
    return FAMILIES[model_type]
