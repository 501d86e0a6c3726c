"""Per-class logit-bias calibration: recovery of an injected bias, symmetry, errors."""

import pytest
import torch
import torch.nn.functional as F

from neuroflow.eval.calibration import apply_logit_bias, fit_logit_bias

CLASSES = 10
INJECTED = torch.tensor([3.0, -1.0, 0.0, 0.5, -2.0, 0.0, 1.0, 0.0, -0.5, -1.0])


def noisy_logits(n: int, seed: int, margin: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of an unbiased classifier: the true class ``margin`` above Gaussian noise."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (n,), generator=gen)
    logits = torch.randn(n, CLASSES, generator=gen) + margin * F.one_hot(labels, CLASSES)
    return logits, labels


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(-1) == labels).float().mean())


def test_a_bias_fitted_on_held_out_logits_undoes_an_injected_bias():
    held_logits, held_labels = noisy_logits(2000, seed=0)
    test_logits, test_labels = noisy_logits(2000, seed=1)
    with torch.inference_mode():  # callers evaluate under inference mode
        bias = fit_logit_bias(held_logits + INJECTED, held_labels)
    unbiased = accuracy(test_logits, test_labels)
    biased = accuracy(test_logits + INJECTED, test_labels)
    fixed = accuracy(apply_logit_bias(test_logits + INJECTED, bias), test_labels)
    assert biased < unbiased - 0.2  # the injected bias costs accuracy ...
    assert fixed > unbiased - 0.01  # ... and the fitted one gives it back
    assert bias.sum().abs() < 1e-5  # centred
    assert torch.allclose(bias, -(INJECTED - INJECTED.mean()), atol=0.2)


def test_calibrated_balanced_logits_get_no_bias():
    # Every example in all cyclic class relabellings: the set is class-symmetric, so the
    # unique optimum gives every class the same bias, i.e. none after centring.
    logits, labels = noisy_logits(200, seed=2)
    rolled = torch.cat([logits.roll(k, dims=1) for k in range(CLASSES)])
    shifted = torch.cat([(labels + k) % CLASSES for k in range(CLASSES)])
    bias = fit_logit_bias(rolled, shifted)
    assert bias.shape == (CLASSES,) and bias.abs().max() < 1e-4


def test_the_fit_is_deterministic_and_keeps_dtype_and_shape():
    logits, labels = noisy_logits(300, seed=3)
    first = fit_logit_bias(logits + INJECTED, labels)
    assert torch.equal(first, fit_logit_bias(logits + INJECTED, labels))
    assert first.dtype == logits.dtype and first.shape == (CLASSES,)
    assert apply_logit_bias(logits.view(3, 100, CLASSES), first).shape == (3, 100, CLASSES)


def test_bad_inputs_are_named():
    logits, labels = noisy_logits(8, seed=4)
    with pytest.raises(ValueError, match=r"\[n, C\]"):
        fit_logit_bias(logits[0], labels)
    with pytest.raises(ValueError, match="labels must be"):
        fit_logit_bias(logits, labels[:5])
    with pytest.raises(ValueError, match="integer"):
        fit_logit_bias(logits, labels.float())
    with pytest.raises(ValueError, match="lie in"):
        fit_logit_bias(logits, labels + CLASSES)
    with pytest.raises(ValueError, match="finite"):
        fit_logit_bias(logits.index_fill(0, torch.tensor([0]), float("nan")), labels)
    with pytest.raises(ValueError, match="l2"):
        fit_logit_bias(logits, labels, l2=-1.0)
    with pytest.raises(ValueError, match="steps"):
        fit_logit_bias(logits, labels, steps=0)
    with pytest.raises(ValueError, match=r"bias must be \[C\]"):
        apply_logit_bias(logits, torch.zeros(CLASSES + 1))
