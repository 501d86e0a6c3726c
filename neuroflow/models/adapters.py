"""Adapter files: what distillation trained, put back on the base model by merging.

One adapter is one safetensors file holding

* ``lora.<module>.A`` ``[r, in]`` and ``lora.<module>.B`` ``[out, r]``: a low-rank update of
  the linear layer ``<module>`` of ``tower.hf``, merged as ``W += scaling * B @ A``;
* ``full.<parameter>``: a trained tensor that replaces the base's wholesale;

and string metadata: ``format`` (:data:`FORMAT`), ``lora_scaling`` (JSON, module -> scaling),
``base_model`` (JSON :func:`model_fingerprint` of the model it was trained from) and ``meta``
(JSON, free-form: recipe, trainable spec, step).

:func:`load_adapter` checks the format and the base model first, then that every named module
and parameter exists with the right shape, and only then changes the weights. Merged, the
model has no extra layers: it runs at base speed on every path, the packed CPU kernels
included (their caches are dropped, and an in-place update changes the version they are keyed
on anyway). Loading needs only torch and safetensors, not the training code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from neuroflow.models.errors import ModelNotAvailableError
from neuroflow.models.tower import VisionTower

FORMAT = "neuroflow-adapter/1"
# Fingerprint fields that must agree between an adapter and the model it is loaded onto.
IDENTITY = ("family", "hidden_size", "layers", "heads", "patch_size", "image_size", "weights")
# Where a model records the adapters merged into it (on the HF module, so it survives
# wrap_tower and deepcopy): an adapter trained on top of one is not one for the plain base.
MERGED_ATTR = "neuroflow_adapters"
LoraFactors = tuple[Tensor, Tensor, float]


@dataclass
class Adapter:
    """The contents of an adapter file (:func:`read_adapter`)."""

    path: Path
    base: dict
    lora: dict[str, LoraFactors]
    full: dict[str, Tensor]
    meta: dict


def _weights_hash(tensors: list[Tensor]) -> str:
    # Rounded to bfloat16 first, so float32 and bfloat16 loads of one checkpoint agree.
    digest = hashlib.sha256()
    for t in tensors:
        t = t.detach().to("cpu", torch.bfloat16).contiguous()
        digest.update(repr(tuple(t.shape)).encode())
        digest.update(t.view(torch.int16).numpy().tobytes())
    return digest.hexdigest()


def model_fingerprint(tower: VisionTower) -> dict:
    """What identifies the base model of ``tower``: sizes and a hash of its embeddings.

    The hash covers the patch projection and the position table (cheap even for ViT-B, and
    different for any two trained models); ``adapters`` lists the sha256 of every adapter
    file merged into the model, in order. Take it from the base (teacher) tower: a student
    that trains its embeddings changes it. Float16 loads of a float32 checkpoint hash
    differently; :func:`~neuroflow.models.loading.load_vision_model` merges in float32.
    """
    weights = [tower._patch_conv().weight, tower._position_weight()]
    return {
        "name": str(getattr(tower.config, "_name_or_path", "") or ""),
        "family": tower.family,
        "hidden_size": tower.hidden_size,
        "layers": len(tower.blocks),
        "heads": int(tower.blocks[0].num_heads),
        "patch_size": tower.patch_size,
        "image_size": tower.native_image_size,
        "weights": _weights_hash(weights),
        "adapters": list(getattr(tower.hf, MERGED_ATTR, [])),
    }


def describe(fingerprint: dict) -> str:
    """One line naming a fingerprinted model."""
    name = f"{fingerprint['name']!r}: " if fingerprint.get("name") else ""
    return (
        f"{name}{fingerprint.get('family')} with hidden size {fingerprint.get('hidden_size')}, "
        f"{fingerprint.get('layers')} layers, {fingerprint.get('heads')} heads, patch "
        f"{fingerprint.get('patch_size')} at {fingerprint.get('image_size')} px, weights "
        f"{str(fingerprint.get('weights'))[:12]}"
        + "".join(f" + adapter {a[:12]}" for a in fingerprint.get("adapters") or [])
    )


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"adapter metadata holds a {type(value).__name__}, which is not JSON")


def _check_lora(name: str, a: Tensor, b: Tensor) -> None:
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[1]:
        raise ValueError(
            f"LoRA factors of {name} must be A [r, in] and B [out, r]; got "
            f"{list(a.shape)} and {list(b.shape)}"
        )


def _check_disjoint(lora: dict, full: dict) -> None:
    both = sorted(n for n in full if n.endswith(".weight") and n[: -len(".weight")] in lora)
    if both:
        raise ValueError(f"{both} are both LoRA-adapted and replaced wholesale")


def save_adapter(
    path: str | Path,
    *,
    base: dict,
    lora: dict[str, LoraFactors],
    full: dict[str, Tensor],
    meta: dict | None = None,
) -> Path:
    """Write an adapter file (module doc).

    Args:
        path: The file to write (parent folders are created).
        base: :func:`model_fingerprint` of the base model.
        lora: Module name -> ``(A [r, in], B [out, r], scaling)``.
        full: Parameter name -> tensor replacing it.
        meta: Free-form JSON metadata (dataclasses and paths are converted).

    Returns:
        The path written.
    """
    missing = [k for k in IDENTITY if k not in base]
    if missing:
        raise ValueError(f"base fingerprint lacks {missing}; pass model_fingerprint(base_tower)")
    _check_disjoint(lora, full)
    tensors: dict[str, Tensor] = {}
    for name, (a, b, _) in lora.items():
        _check_lora(name, a, b)
        tensors[f"lora.{name}.A"] = a.detach().to("cpu").contiguous()
        tensors[f"lora.{name}.B"] = b.detach().to("cpu").contiguous()
    for name, t in full.items():
        tensors[f"full.{name}"] = t.detach().to("cpu").contiguous()
    metadata = {
        "format": FORMAT,
        "lora_scaling": json.dumps({n: float(s) for n, (_, _, s) in lora.items()}),
        "base_model": json.dumps(base),
        "meta": json.dumps(meta or {}, default=_jsonable),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def _metadata_json(metadata: dict, key: str, path: Path) -> Any:
    try:
        return json.loads(metadata[key])
    except (KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"adapter {path}: its {key!r} metadata is missing or not JSON") from err


def _read_file(path: Path) -> tuple[dict, dict[str, Tensor]]:
    """Metadata and tensors of an adapter file, its format checked before any tensor is read."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            if metadata.get("format") != FORMAT:
                found = metadata.get("format")
                raise ValueError(
                    f"{path} is not a neuroflow adapter: its format is "
                    f"{found!r}, expected {FORMAT!r} (written by neuroflow-distill)"
                )
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except ValueError:
        raise
    except Exception as err:  # noqa: BLE001 - SafetensorError and OS errors alike
        raise ValueError(
            f"{path} is not a neuroflow adapter: not a readable safetensors file "
            f"(damaged, truncated or another format: {err})"
        ) from err
    return metadata, tensors


def _split_tensors(
    tensors: dict[str, Tensor], scaling: dict, path: Path
) -> tuple[dict[str, LoraFactors], dict[str, Tensor]]:
    parts: dict[str, dict[str, Tensor]] = {}
    full: dict[str, Tensor] = {}
    for key, t in tensors.items():
        if not torch.isfinite(t).all():
            raise ValueError(f"adapter {path}: tensor {key} holds NaN or infinite values")
        if key.startswith("full."):
            full[key.removeprefix("full.")] = t
        elif key.startswith("lora.") and key.endswith((".A", ".B")):
            parts.setdefault(key[len("lora.") : -2], {})[key[-1]] = t
        else:
            raise ValueError(f"adapter {path}: unexpected tensor {key!r}")
    if set(parts) != set(scaling) or any(set(p) != {"A", "B"} for p in parts.values()):
        raise ValueError(f"adapter {path}: a LoRA module lacks its A, B or scaling")
    lora = {}
    for name, p in parts.items():
        _check_lora(name, p["A"], p["B"])
        lora[name] = (p["A"], p["B"], float(scaling[name]))
    _check_disjoint(lora, full)
    return lora, full


def adapter_file(path: str | Path) -> Path:
    """``path`` as a ``Path``; raises :class:`ModelNotAvailableError` when no file is there."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelNotAvailableError(
            f"no adapter file at {path.absolute()}; pass a .safetensors file written by "
            "neuroflow-distill (model.adapter=PATH), or null for the base model"
        )
    return path


def read_adapter(path: str | Path) -> Adapter:
    """Read and check an adapter file (without a model).

    Raises:
        ModelNotAvailableError: There is no file at ``path``.
        ValueError: It is not an adapter of this format, or its contents are inconsistent
            or not finite.
    """
    path = adapter_file(path)
    metadata, tensors = _read_file(path)
    scaling = _metadata_json(metadata, "lora_scaling", path)
    base = _metadata_json(metadata, "base_model", path)
    meta = _metadata_json(metadata, "meta", path)
    lora, full = _split_tensors(tensors, scaling, path)
    return Adapter(path, base, lora, full, meta)


def check_base(tower: VisionTower, adapter: Adapter) -> None:
    """Raise ``ValueError`` unless ``tower`` is the model ``adapter`` was trained from."""
    mine = model_fingerprint(tower)
    differ = [k for k in IDENTITY if adapter.base.get(k) != mine[k]]
    if (adapter.base.get("adapters") or []) != mine["adapters"]:
        differ.append("merged adapters")
    if differ:
        raise ValueError(
            f"adapter {adapter.path} was made for {describe(adapter.base)}, but this model is "
            f"{describe(mine)} (they differ in {', '.join(differ)}); load it onto the base "
            "model it was distilled from"
        )


def _shape_problems(adapter: Adapter, params: dict[str, nn.Parameter]) -> list[str]:
    problems = []
    for name, (a, b, _) in adapter.lora.items():
        w = params.get(f"{name}.weight")
        if w is None:
            problems.append(f"LoRA module {name} is not a layer of this model")
        elif tuple(w.shape) != (b.shape[0], a.shape[1]):
            problems.append(
                f"LoRA module {name} is {b.shape[0]}x{a.shape[1]}, the model's weight is "
                f"{'x'.join(map(str, w.shape))}"
            )
    for name, t in adapter.full.items():
        p = params.get(name)
        if p is None:
            problems.append(f"parameter {name} is not in this model")
        elif p.shape != t.shape:
            problems.append(f"parameter {name} is {list(t.shape)}, the model's {list(p.shape)}")
    return problems


def _drop_caches(tower: VisionTower) -> None:
    """Forget everything derived from the old weights (packed kernels, resized tables)."""
    for block in tower.blocks:
        block._kernels = None
    tower._head_kernels = None
    tower._table_cache = {}


def load_adapter(tower: VisionTower, path: str | Path) -> dict:
    """Merge the adapter at ``path`` into ``tower`` (in place) and return its metadata.

    Checks the file's format and base model, then every module and parameter it names,
    before any weight changes. LoRA updates are merged in float32 and cast back to each
    weight's dtype; ``full.*`` tensors are copied over the base's. The model then records
    the file's sha256 (its fingerprint's ``adapters``), so an adapter distilled on top of
    this one loads onto this combination only, never onto the plain base.

    Args:
        tower: A plain base tower (not one with LoRA layers injected). For a full
            image-text model, pass ``wrap_tower(model)``: it shares the model's modules.
        path: The adapter file.

    Returns:
        The adapter's free-form metadata.

    Raises:
        ModelNotAvailableError: No file at ``path``.
        ValueError: Another format, an adapter of another model (the message names both),
            or modules/parameters this model lacks or has in another shape.
    """
    adapter = read_adapter(path)
    check_base(tower, adapter)
    params = dict(tower.hf.named_parameters())
    problems = _shape_problems(adapter, params)
    if problems:
        raise ValueError(f"adapter {adapter.path} does not fit this model: {'; '.join(problems)}")
    with torch.no_grad():
        for name, (a, b, scaling) in adapter.lora.items():
            w = params[f"{name}.weight"]
            delta = b.to(w.device, torch.float32) @ a.to(w.device, torch.float32)
            w.copy_((w.float() + scaling * delta).to(w.dtype))
        for name, t in adapter.full.items():
            params[name].copy_(t)
    _drop_caches(tower)
    digest = hashlib.sha256(adapter.path.read_bytes()).hexdigest()
    setattr(tower.hf, MERGED_ATTR, [*getattr(tower.hf, MERGED_ATTR, []), digest])
    return adapter.meta


def adapter_bytes(path: str | Path) -> int:
    """Size of an adapter file on disk."""
    return Path(path).stat().st_size


def parameter_bytes(module: nn.Module) -> int:
    """Bytes of ``module``'s parameters (each shared one once)."""
    return sum(p.numel() * p.element_size() for p in module.parameters())
