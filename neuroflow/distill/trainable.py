"""What a distillation student trains: its head, head and last blocks, everything, or LoRA.

:func:`apply_trainable` freezes a tower and unfreezes what a :class:`TrainableSpec` names;
:func:`export_adapter` writes what was trained as one adapter file
(:mod:`neuroflow.models.adapters`), which ``load_vision_model(..., adapter=...)`` puts back
on the base model.

"The head" is everything between the last encoder block and the pooled embedding, per
family:

* SigLIP: ``post_layernorm`` and the MAP ``head`` (probe, attention, layernorm, MLP).
* CLIP: ``post_layernorm`` (the pooled embedding is the normalised class token; CLIP's
  visual projection belongs to the image-text model, not to the vision tower).
* ViT: the final ``layernorm`` and the ``pooler`` (when the model has one).

Parameter names are those of ``tower.hf`` (``head.probe``, ``encoder.layers.3.mlp.fc1.weight``);
with LoRA injected, the trainable names are peft's (``...q_proj.lora_A.default.weight``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from torch import Tensor, nn

from neuroflow.distill.lora import (
    add_lora,
    base_name,
    has_lora,
    is_lora_parameter,
    lora_factors,
    resolve_targets,
)
from neuroflow.models.adapters import save_adapter
from neuroflow.models.tower import VisionTower

WHATS = ("head", "head_blocks", "all", "lora")
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
# Parameter-name prefixes of each family's head (module doc).
HEAD_PREFIXES = {
    "siglip": ("post_layernorm.", "head."),
    "clip": ("post_layernorm.",),
    "vit": ("layernorm.", "pooler."),
}


def _as_names(value: str | Iterable[str]) -> tuple[str, ...]:
    # One string is one name (not its characters); Hydra hands lists as ListConfig.
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


@dataclass(frozen=True)
class TrainableSpec:
    """Which parameters a student trains.

    Attributes:
        what: ``"head"`` (module doc), ``"head_blocks"`` (the head and the last
            ``last_blocks`` encoder blocks), ``"all"`` or ``"lora"`` (LoRA on
            ``lora_targets``; the base stays frozen).
        last_blocks: Encoder blocks ``head_blocks`` trains, counted from the last.
        lora_targets: Layer names or regexes of ``tower.hf``
            (:mod:`neuroflow.distill.lora`). ViT names its attention output ``o_proj``.
        lora_rank: LoRA rank.
        lora_alpha: LoRA alpha (the update is scaled by ``alpha / rank``).
        lora_dropout: Dropout on the LoRA branch (training mode only).
        extra: ``fnmatch`` patterns of ``tower.hf`` parameter names trained fully besides
            (``"head.probe"``, ``"head.layernorm.*"``).
    """

    what: Literal["head", "head_blocks", "all", "lora"] = "lora"
    last_blocks: int = 2
    lora_targets: tuple[str, ...] = DEFAULT_TARGETS
    lora_rank: int = 4
    lora_alpha: float = 8.0
    lora_dropout: float = 0.0
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "lora_targets", _as_names(self.lora_targets))
        object.__setattr__(self, "extra", _as_names(self.extra))
        if self.what not in WHATS:
            raise ValueError(f"unknown trainable what={self.what!r}; choose from {WHATS}")
        if int(self.last_blocks) < 1:
            raise ValueError(f"last_blocks must be >= 1, got {self.last_blocks}")
        if int(self.lora_rank) < 1:
            raise ValueError(f"lora_rank must be >= 1, got {self.lora_rank}")
        if not self.lora_alpha > 0:
            raise ValueError(f"lora_alpha must be > 0, got {self.lora_alpha}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.what == "lora" and not self.lora_targets:
            raise ValueError("what='lora' needs at least one of lora_targets")


def _base_parameters(tower: VisionTower) -> dict[str, nn.Parameter]:
    """Base-model name -> parameter of ``tower.hf`` (LoRA factors left out)."""
    return {base_name(n): p for n, p in tower.hf.named_parameters() if not is_lora_parameter(n)}


def _head_names(tower: VisionTower, names: Iterable[str]) -> list[str]:
    prefixes = HEAD_PREFIXES.get(tower.family)
    if prefixes is None:
        raise ValueError(
            f"no head is known for tower family {tower.family!r} (known: "
            f"{', '.join(HEAD_PREFIXES)}); use what=all, lora or extra patterns"
        )
    return [n for n in names if n.startswith(prefixes)]


def _block_names(tower: VisionTower, params: dict[str, nn.Parameter], last: int) -> list[str]:
    if last > len(tower.blocks):
        raise ValueError(
            f"last_blocks={last} but this {tower.family} tower has {len(tower.blocks)} blocks"
        )
    ids = {id(p) for block in tower.blocks[-last:] for p in block.parameters()}
    return [n for n, p in params.items() if id(p) in ids]


def _extra_names(params: dict[str, nn.Parameter], patterns: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        hits = [n for n in params if fnmatchcase(n, pattern)]
        if not hits:
            outside = [n for n in params if ".layers." not in f".{n}"][:12]
            raise ValueError(
                f"extra pattern {pattern!r} matches no parameter of the tower; names look "
                f"like {', '.join(outside)} and {next(iter(params))}"
            )
        found += hits
    return list(dict.fromkeys(found))


def _selection(tower: VisionTower, spec: TrainableSpec, params: dict) -> list[str]:
    """Base parameters trained fully by ``spec.what`` (none for LoRA)."""
    if spec.what == "all":
        return list(params)
    if spec.what == "lora":
        return []
    head = _head_names(tower, params)
    if spec.what == "head":
        return head
    return list(dict.fromkeys(_block_names(tower, params, int(spec.last_blocks)) + head))


def apply_trainable(tower: VisionTower, spec: TrainableSpec) -> list[str]:
    """Freeze ``tower``, then unfreeze (or inject LoRA for) what ``spec`` names.

    Everything is checked before the tower changes.

    Args:
        tower: The student tower (changed in place; LoRA layers are injected into it).
        spec: What to train.

    Returns:
        Names (in ``tower.hf``) of the parameters left trainable.

    Raises:
        ValueError: A LoRA target or extra pattern that matches nothing, a LoRA target inside
            ``head.attention``, ``last_blocks`` above the tower's block count, an extra
            pattern naming the weight of a LoRA layer, or LoRA on a tower that has it already.
    """
    params = _base_parameters(tower)
    extra = _extra_names(params, spec.extra)
    full = _selection(tower, spec, params)
    if spec.what == "lora":
        if has_lora(tower):
            raise ValueError("this tower already has LoRA layers; start from a fresh base model")
        modules = resolve_targets(tower, spec.lora_targets)
        both = sorted(set(extra) & {f"{m}.weight" for m in modules})
        if both:
            raise ValueError(
                f"extra parameters {both} are weights of LoRA layers; train a weight either "
                "fully (extra) or by LoRA (lora_targets), not both"
            )
    for p in tower.parameters():
        p.requires_grad_(False)
    if spec.what == "lora":
        add_lora(tower, spec.lora_targets, spec.lora_rank, spec.lora_alpha, spec.lora_dropout)
    for name in full + extra:
        params[name].requires_grad_(True)
    return [n for n, p in tower.hf.named_parameters() if p.requires_grad]


def trained_tensors(
    tower: VisionTower,
) -> tuple[dict[str, tuple[Tensor, Tensor, float]], dict[str, Tensor]]:
    """``(lora, full)`` of a trained student: its LoRA factors, and every other trainable
    parameter by its base-model name (the tensors an adapter file holds)."""
    full = {
        base_name(n): p.detach()
        for n, p in tower.hf.named_parameters()
        if p.requires_grad and not is_lora_parameter(n)
    }
    return lora_factors(tower), full


def export_adapter(
    tower: VisionTower, path: str | Path, *, base: dict, meta: dict | None = None
) -> Path:
    """Write what ``tower`` trains (:func:`trained_tensors`) as an adapter file.

    Args:
        tower: The trained student (after :func:`apply_trainable`).
        path: The ``.safetensors`` file to write.
        base: :func:`~neuroflow.models.adapters.model_fingerprint` of the base (teacher)
            tower, taken before training (a student that trains its embeddings no longer
            has the base's fingerprint).
        meta: Free-form JSON metadata (recipe, trainable spec, step, ...).
    """
    lora, full = trained_tensors(tower)
    return save_adapter(path, base=base, lora=lora, full=full, meta=meta)
