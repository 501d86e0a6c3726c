"""Decode loops and metrics of the language-model ablation."""

from __future__ import annotations

import math

import pytest
import torch

from neuroflow.llm import greedy_decode, load_causal_lm, perplexity, teacher_forced_nll, token_drift
from neuroflow.llm.metrics import decode_latency
from neuroflow.llm.profile import attention_similarity, similarity_rows

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lm():
    return load_causal_lm("tiny-gpt2")[0]


def _ids(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


def test_stepwise_nll_equals_one_full_forward(lm):
    ids = _ids(40)
    with torch.inference_mode():
        log_p = torch.log_softmax(lm(ids.view(1, -1)).logits[0].float(), -1)
    full = -log_p[9:-1].gather(1, ids[10:, None])[:, 0]
    assert torch.allclose(teacher_forced_nll(lm, ids, warmup=10), full, atol=1e-4)


def test_nll_refuses_a_warmup_that_leaves_nothing_to_score(lm):
    with pytest.raises(ValueError, match="warmup"):
        teacher_forced_nll(lm, _ids(8), warmup=8)


def test_greedy_decode_matches_hf_generate(lm):
    prompt = _ids(5)
    run = greedy_decode(lm, prompt, 12)
    out = lm.generate(prompt.view(1, -1), max_new_tokens=12, min_new_tokens=12, do_sample=False)
    assert torch.equal(run.tokens, out[0, 5:])
    assert run.entropy.shape == (12,)
    assert bool((run.entropy >= 0).all()) and bool((run.entropy <= math.log(257) + 1e-4).all())


def test_perplexity_is_exp_mean_nll():
    assert perplexity(torch.tensor([0.0, 2.0])) == pytest.approx(math.e)


def test_token_drift_counts_positions_and_the_first_divergence():
    a = torch.tensor([1, 2, 3, 4])
    assert token_drift(a, a) == {"drift": 0.0, "first_divergence": None, "positions": 4}
    assert token_drift(a, torch.tensor([1, 2, 9, 9])) == {
        "drift": 0.5,
        "first_divergence": 2,
        "positions": 4,
    }
    with pytest.raises(ValueError, match="length"):
        token_drift(a, a[:3])


def test_decode_latency_is_positive(lm):
    assert decode_latency(lm, _ids(4), 5) > 0


def test_similarity_profile_has_one_value_per_decode_step_and_layer(lm):
    profile = attention_similarity(lm, [_ids(5), _ids(7, seed=1)], steps=6)
    assert sorted(profile) == [0, 1, 2, 3]
    assert all(s.shape == (2 * 5,) for s in profile.values())
    rows = similarity_rows(profile)
    assert [r["layer"] for r in rows] == [0, 1, 2, 3]
    assert all(-1 <= r["p10"] <= r["p50"] <= r["p90"] <= 1 for r in rows)
    assert not lm.transformer.h[0].attn._forward_hooks  # hooks removed
