"""The attention bypass on tiny random Phi-3, GPT-2 and Llama models."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from neuroflow.llm import apply_bypass, greedy_decode, load_causal_lm, teacher_forced_nll
from neuroflow.llm.bypass import BypassConfig, BypassedAttention
from neuroflow.llm.families import family_of

pytestmark = pytest.mark.usefixtures("one_thread")
FAMILIES = ("tiny-phi3", "tiny-gpt2", "tiny-llama")


@pytest.fixture(scope="module", params=FAMILIES)
def lm(request):
    return load_causal_lm(request.param)[0]


def _ids(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


def _stepwise(model, ids: torch.Tensor) -> tuple[DynamicCache, list[torch.Tensor]]:
    """Feed ``ids`` one token at a time; the cache and each step's logits."""
    cache, logits = DynamicCache(config=model.config), []
    with torch.inference_mode():
        for i in range(len(ids)):
            out = model(input_ids=ids[i : i + 1].view(1, 1), cache=cache, use_cache=True)
            logits.append(out.logits[0, -1])
    return cache, logits


@pytest.mark.parametrize("kv", ["advance", "hole"])
def test_threshold_above_one_equals_dense_exactly(lm, kv):
    prompt, ids = _ids(8), _ids(40, seed=1)
    dense_gen, dense_nll = greedy_decode(lm, prompt, 24), teacher_forced_nll(lm, ids, warmup=8)
    with apply_bypass(lm, gate_layer=1, cache_layers=[2, 3], threshold=1.01, kv=kv) as bypass:
        gen, nll = greedy_decode(lm, prompt, 24), teacher_forced_nll(lm, ids, warmup=8)
        assert bypass.stats()["bypass_rate"] == 0.0
    assert torch.equal(gen.tokens, dense_gen.tokens)
    assert torch.equal(gen.entropy, dense_gen.entropy)
    assert torch.equal(nll, dense_nll)


def test_gate_before_cache_fires_exactly_where_dense_similarity_passes(lm):
    # Teacher-forced with G < C, the gate layer never sees the bypass: its similarities are
    # the dense ones, so the bypass must fire on exactly the steps whose similarity >= θ.
    ids = _ids(48, seed=2)
    with apply_bypass(lm, gate_layer=1, cache_layers=[3], threshold=1.01) as probe:
        teacher_forced_nll(lm, ids, warmup=4)
        sims = torch.stack(probe.state.similarities)[:, 0]
    theta = float(sims.median())
    with apply_bypass(lm, gate_layer=1, cache_layers=[3], threshold=theta) as bypass:
        teacher_forced_nll(lm, ids, warmup=4)
        applied = torch.stack(bypass.state.applied)[:, 0]
        assert bypass.stats()["bypass_rate"] == pytest.approx(float((sims >= theta).float().mean()))
    assert torch.equal(applied, sims >= theta)
    assert 0 < int(applied.sum()) < len(applied)


def test_forced_threshold_bypasses_every_decode_step(lm):
    with apply_bypass(lm, gate_layer=1, cache_layers=[2], threshold=-1.0) as bypass:
        greedy_decode(lm, _ids(6), 20)
        stats = bypass.stats()
    assert stats["decode_steps"] == 19
    assert stats["bypass_rate"] == 1.0 and stats["skipped_step_rate"] == 1.0


def test_kv_advance_keeps_every_cache_at_sequence_length_with_dense_keys(lm):
    ids = _ids(30, seed=3)
    dense_cache, _ = _stepwise(lm, ids)
    with apply_bypass(lm, gate_layer=1, cache_layers=[2], threshold=-1.0, kv="advance"):
        cache = DynamicCache(config=lm.config)
        with torch.inference_mode():
            for i in range(len(ids)):
                lm(input_ids=ids[i : i + 1].view(1, 1), cache=cache, use_cache=True)
                lengths = {cache.get_seq_length(layer) for layer in range(4)}
                assert lengths == {i + 1}
    # Layer 2's input does not depend on its own bypass: the keys/values it caches on
    # bypass steps are the ones a dense step writes.
    for layer in (1, 2):
        assert torch.allclose(cache.layers[layer].keys, dense_cache.layers[layer].keys, atol=1e-5)
        assert torch.allclose(
            cache.layers[layer].values, dense_cache.layers[layer].values, atol=1e-5
        )
    assert not torch.allclose(cache.layers[3].keys, dense_cache.layers[3].keys, atol=1e-5)


def test_kv_hole_leaves_out_every_bypassed_token(lm):
    ids = _ids(20, seed=4)
    with apply_bypass(lm, gate_layer=1, cache_layers=[2], threshold=-1.0, kv="hole") as bypass:
        cache, _ = _stepwise(lm, ids)
        skipped = int(torch.stack(bypass.state.applied).sum())
    assert skipped == len(ids) - 1  # every decode step (all tokens after the first)
    assert cache.get_seq_length(2) == len(ids) - skipped
    assert {cache.get_seq_length(layer) for layer in (0, 1, 3)} == {len(ids)}


def test_generate_and_plain_loop_agree_under_bypass(lm):
    prompt = _ids(6, seed=5)
    with apply_bypass(lm, gate_layer=1, cache_layers=[3], threshold=0.99) as bypass:
        loop = greedy_decode(lm, prompt, 16)
        loop_stats = bypass.stats()
        out = lm.generate(prompt.view(1, -1), max_new_tokens=16, do_sample=False, min_new_tokens=16)
        assert bypass.stats() == loop_stats
    assert torch.equal(out[0, len(prompt) :], loop.tokens)


def test_sequences_of_a_batch_are_gated_independently(lm):
    prompts = torch.stack([_ids(6, seed=6), _ids(6, seed=7)])
    with apply_bypass(lm, gate_layer=1, cache_layers=[3], threshold=0.995) as bypass:
        alone = []
        for row in prompts:
            alone.append(greedy_decode(lm, row, 12).tokens)
        out = lm.generate(prompts, max_new_tokens=12, do_sample=False, min_new_tokens=12)
        applied = torch.stack(bypass.state.applied)
    assert torch.equal(out[:, 6:], torch.stack(alone))
    assert applied.shape == (11, 2)


def test_remove_restores_the_model(lm):
    family = family_of(lm)
    layers = family.decoder_layers(lm)
    original = getattr(layers[2], family.attention)
    bypass = apply_bypass(lm, gate_layer=1, cache_layers=[2], threshold=-1.0)
    assert isinstance(getattr(layers[2], family.attention), BypassedAttention)
    bypass.remove()
    assert getattr(layers[2], family.attention) is original
    assert not lm._forward_pre_hooks and not any(layer._forward_hooks for layer in layers)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gate_layer": 2, "cache_layers": (2,)}, "also a cache layer"),
        ({"cache_layers": ()}, "empty"),
        ({"kv": "sometimes"}, "kv must be"),
        ({"kv": "hole", "cache_layers": (0,)}, "layer 0"),
    ],
)
def test_bad_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BypassConfig(**kwargs)


def test_layers_outside_the_model_and_hole_batches_are_refused():
    model = load_causal_lm("tiny-phi3")[0]
    with pytest.raises(ValueError, match="out of range"):
        apply_bypass(model, gate_layer=1, cache_layers=[9])
    with apply_bypass(model, gate_layer=1, cache_layers=[2], kv="hole"):
        with pytest.raises(ValueError, match="batch 1 only"):
            model.generate(torch.zeros(2, 4, dtype=torch.long), max_new_tokens=3, do_sample=False)


def test_unsupported_family_is_named():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="supports the model types"):
        apply_bypass(model)


def test_shipped_mini_lm_equals_dense_above_one_and_changes_when_forced():
    model, tokenizer = load_causal_lm("mini_lm")
    ids = torch.tensor(tokenizer("def merge_sort(arr):\n    if len(arr) <= 1:\n")["input_ids"])
    dense_gen, dense_nll = greedy_decode(model, ids, 12), teacher_forced_nll(model, ids, warmup=4)
    for kv in ("advance", "hole"):
        with apply_bypass(model, gate_layer=1, cache_layers=[6], threshold=1.01, kv=kv):
            assert torch.equal(greedy_decode(model, ids, 12).tokens, dense_gen.tokens)
            assert torch.equal(teacher_forced_nll(model, ids, warmup=4), dense_nll)
    with apply_bypass(model, gate_layer=1, cache_layers=[6], threshold=-1.0):
        assert not torch.allclose(teacher_forced_nll(model, ids, warmup=4), dense_nll)
