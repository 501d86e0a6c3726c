"""Per-class logit-bias calibration of a classifier's logits, fitted on held-out examples.

A sparse method shifts the image embeddings and with them the zero-shot logits, often
towards some classes. :func:`fit_logit_bias` fits one additive bias per class on held-out
examples run through the same method (never the test examples), minimising the mean
cross-entropy of ``softmax(logits + b)`` plus a small L2 penalty on ``b``; the problem is
convex (strictly so with the penalty), so the optimum is unique and the fit deterministic.
:func:`apply_logit_bias` then shifts the test logits: ``pred = argmax(logits + b)``.

Pass the logits the classifier scores with (cosine times the logit scale, as
:meth:`~neuroflow.eval.zeroshot.ZeroShotClassifier.logits` returns them): the bias is on
that scale. Pure torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_L2 = 1e-3  # keeps the bias of a class absent from the held-out set finite
DEFAULT_STEPS = 100


def _check(logits: Tensor, labels: Tensor) -> None:
    if logits.dim() != 2 or logits.shape[0] < 1 or logits.shape[1] < 2:
        raise ValueError(f"logits must be [n, C] with n >= 1 and C >= 2, got {tuple(logits.shape)}")
    if labels.shape != (logits.shape[0],):
        raise ValueError(
            f"labels must be [n] = [{logits.shape[0]}] to match the logits, got "
            f"{tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got {labels.dtype}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must lie in [0, {logits.shape[1]}), got {labels.tolist()}")
    if not torch.isfinite(logits).all():
        raise ValueError("logits must be finite")


def fit_logit_bias(
    logits: Tensor, labels: Tensor, l2: float = DEFAULT_L2, steps: int = DEFAULT_STEPS
) -> Tensor:
    """The per-class bias ``b`` minimising ``CE(softmax(logits + b), labels) + l2 * |b|^2``.

    Fitted in float64 on the CPU with L-BFGS (strong-Wolfe line search), so the same inputs
    always give the same bias. ``b`` is mean-centred: a constant shift changes no
    prediction (the penalty's optimum is centred already; centring removes round-off).

    Args:
        logits: ``[n, C]`` held-out logits (the classifier's scaled logits).
        labels: ``[n]`` their integer labels.
        l2: Weight of the L2 penalty on ``b`` (against the mean cross-entropy).
        steps: Largest number of L-BFGS iterations.

    Returns:
        ``[C]`` bias in the logits' dtype, on their device.

    Raises:
        ValueError: On mis-shaped or non-finite logits, labels outside ``[0, C)``, a
            negative ``l2`` or fewer than one step.
    """
    _check(logits, labels)
    if l2 < 0:
        raise ValueError(f"l2 must be non-negative, got {l2}")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    # Callers may sit under inference_mode, where autograd is off and tensors are
    # inference tensors: fit on fresh copies with autograd back on.
    with torch.inference_mode(False), torch.enable_grad():
        x = logits.detach().to("cpu", torch.float64).clone()
        y = labels.detach().to("cpu", torch.long).clone()
        bias = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS(
            [bias],
            lr=1.0,
            max_iter=steps,
            tolerance_grad=1e-10,
            tolerance_change=1e-14,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(x + bias, y) + l2 * bias.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
    centred = bias.detach() - bias.detach().mean()
    return centred.to(logits.device, logits.dtype)


def apply_logit_bias(logits: Tensor, bias: Tensor) -> Tensor:
    """``logits + bias`` over the class axis (``[..., C]`` plus ``[C]``).

    Raises:
        ValueError: When ``bias`` is not ``[C]`` for the logits' ``C`` classes.
    """
    if logits.dim() < 1 or bias.shape != (logits.shape[-1],):
        raise ValueError(
            f"bias must be [C] for logits [..., C]; got bias {tuple(bias.shape)} and logits "
            f"{tuple(logits.shape)}"
        )
    return logits + bias.to(logits.device, logits.dtype)
