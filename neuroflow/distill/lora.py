"""LoRA adapters on a vision tower's linear layers, through peft.

Targets are matched against the module names of ``tower.hf`` the way peft matches them: a
plain name (``"q_proj"``, ``"mlp.fc1"``) matches every module whose name is it or ends in
``.<name>``; anything else is a regular expression that must match a whole module name
(``r"encoder\\.layers\\.[23]\\..*_proj"``). Only ``nn.Linear`` layers are adapted.

SigLIP's MAP head attention (``head.attention``) is never adapted: ``nn.MultiheadAttention``
reads its own ``out_proj`` weight directly, and neuroflow's folded pooling
(:mod:`neuroflow.models.map_head`) reads ``in_proj_weight`` directly, so a LoRA there would
act on one path and not the other. A bare layer name (``"out_proj"``) therefore skips it; a
dotted name or a regex that reaches into it is refused. The head's MLP is a plain module call
on every path and may be adapted.

While LoRA layers are in place the packed CPU kernels are off (they pack the base weights
only); a merged adapter (:func:`neuroflow.models.adapters.load_adapter`) runs on them again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from torch import Tensor, nn

if TYPE_CHECKING:
    from neuroflow.models.tower import VisionTower

ADAPTER = "default"  # peft's adapter name; one adapter per tower
HEAD_ATTENTION = "head.attention"


def _is_plain_name(target: str) -> bool:
    return re.fullmatch(r"[\w.]+", target) is not None


def _matches(target: str, name: str) -> bool:
    if _is_plain_name(target):
        return name == target or name.endswith("." + target)
    return re.fullmatch(target, name) is not None


def _in_head_attention(name: str) -> bool:
    return name == HEAD_ATTENTION or name.startswith(HEAD_ATTENTION + ".")


def _lora_layer() -> type:
    # peft is imported on first use: the command-line schemas import this package's specs.
    from peft.tuners.lora import LoraLayer

    return LoraLayer


def has_lora(tower: VisionTower) -> bool:
    """True when LoRA layers were injected into ``tower.hf``."""
    layer = _lora_layer()
    return any(isinstance(m, layer) for m in tower.hf.modules())


def _target_hits(target: str, linears: list[str]) -> list[str]:
    """Linear layers ``target`` selects; raises for one that reaches into the MAP attention."""
    try:
        hits = [n for n in linears if _matches(target, n)]
    except re.error as err:
        raise ValueError(f"LoRA target {target!r} is not a valid regex: {err}") from err
    inside = [n for n in hits if _in_head_attention(n)]
    if inside and not (_is_plain_name(target) and "." not in target):
        raise ValueError(
            f"LoRA target {target!r} reaches into {HEAD_ATTENTION} ({', '.join(inside)}): its "
            "weights are read directly by nn.MultiheadAttention and by neuroflow's folded "
            "pooling, so a LoRA there would not act the same on both paths; train the head "
            "fully (extra=['head.*'] or what=head) or adapt head.mlp.fc1/fc2 instead"
        )
    return [n for n in hits if not _in_head_attention(n)]


def resolve_targets(tower: VisionTower, targets: tuple[str, ...] | list[str]) -> list[str]:
    """The linear layers of ``tower.hf`` that ``targets`` select, in module order.

    Raises:
        ValueError: No targets, a target that selects no linear layer (the message lists
            the layer names there are), an invalid regex, or one inside ``head.attention``.
    """
    if not targets:
        raise ValueError("LoRA needs at least one target layer name (lora_targets)")
    linears = [n for n, m in tower.hf.named_modules() if isinstance(m, nn.Linear)]
    chosen: set[str] = set()
    for target in targets:
        hits = _target_hits(target, linears)
        if not hits:
            leaves = sorted({n.rsplit(".", 1)[-1] for n in linears if not _in_head_attention(n)})
            raise ValueError(
                f"LoRA target {target!r} matches no linear layer of this {tower.family} tower; "
                f"its layer names are {', '.join(leaves)} (e.g. {linears[0]})"
            )
        chosen.update(hits)
    return [n for n in linears if n in chosen]


def add_lora(
    tower: VisionTower,
    targets: tuple[str, ...] | list[str],
    rank: int,
    alpha: float,
    dropout: float = 0.0,
) -> list[str]:
    """Inject LoRA layers (``W x + (alpha / rank) B A x``, ``B = 0`` at first) into ``tower``.

    Every parameter of the adapted layers' base stays as it is (peft freezes the base; see
    :func:`neuroflow.distill.trainable.apply_trainable` for the whole selection). The
    tower's blocks are rebuilt so the sparse paths see the LoRA layers, and their packed CPU
    kernels are switched off (module doc).

    Args:
        tower: The tower (changed in place).
        targets: Layer names or regexes (module doc).
        rank: LoRA rank ``r``.
        alpha: LoRA ``alpha``; the update is scaled by ``alpha / rank``.
        dropout: Dropout on the LoRA branch's input (training mode only).

    Returns:
        The names (in ``tower.hf``) of the adapted layers.

    Raises:
        ValueError: See :func:`resolve_targets`; also when the tower already has LoRA layers.
    """
    from peft import LoraConfig, inject_adapter_in_model

    if has_lora(tower):
        raise ValueError("this tower already has LoRA layers; start from a fresh base model")
    modules = resolve_targets(tower, targets)
    exact = "^(?:" + "|".join(re.escape(n) for n in modules) + ")$"  # peft: whole-name regex
    config = LoraConfig(
        r=int(rank),
        lora_alpha=float(alpha),
        lora_dropout=float(dropout),
        target_modules=exact,
        bias="none",
    )
    inject_adapter_in_model(config, tower.hf, adapter_name=ADAPTER)
    tower.rebuild_blocks()
    for block in tower.blocks:
        block.cpu_kernels = False  # they would pack the base weights and skip the LoRA branch
    return modules


def lora_factors(tower: VisionTower) -> dict[str, tuple[Tensor, Tensor, float]]:
    """Module name -> ``(A [r, in], B [out, r], scaling)`` of every LoRA layer (detached).

    The layer computes ``W x + scaling * B A x``; merged, ``W += scaling * B @ A``.
    """
    factors, layer = {}, _lora_layer()
    for name, module in tower.hf.named_modules():
        if isinstance(module, layer) and ADAPTER in module.lora_A:
            a = module.lora_A[ADAPTER].weight.detach()
            b = module.lora_B[ADAPTER].weight.detach()
            factors[name] = (a, b, float(module.scaling[ADAPTER]))
    return factors


def is_lora_parameter(name: str) -> bool:
    """True for a peft LoRA parameter name (``...q_proj.lora_A.default.weight``)."""
    return any(part.startswith("lora_") for part in name.split("."))


def base_name(name: str) -> str:
    """The base model's name of a parameter under a LoRA wrapper (drops ``base_layer.``)."""
    return name.replace(".base_layer.", ".")
