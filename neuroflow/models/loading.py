"""Load a vision tower from a registered source name, a local directory or a hub id.

``load_vision_model("google/siglip-base-patch16-224")`` and
``load_vision_model("/models/siglip-base")`` go through the same ``from_pretrained`` code;
registered names (:mod:`neuroflow.models.sources`: ``"tiny-siglip"``, ``"tiny-clip"``,
``"tiny-vit"``, ``"mini_siglip"`` and whatever else was registered) come first. A path that
does not exist, or a hub model that is neither cached nor reachable, raises
:class:`ModelNotAvailableError` saying what is missing and, for hub ids, how to download it.

Weights are read from safetensors only (``use_safetensors=True``; a pickle-only checkpoint is
refused with how to convert it), a damaged file is named, and every loaded model with trained
weights is checked to be finite (:mod:`neuroflow.models.errors`). No token is read or logged
here: hub access goes through ``huggingface_hub``'s own credential handling.

``adapter=`` merges a distilled adapter file (:mod:`neuroflow.models.adapters`) into the
vision tower at load time, in float32 before the cast to ``dtype`` (so the base's fingerprint
and the merge are exact whatever dtype the model then runs in); the result is checked to be
finite like trained weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoProcessor,
    CLIPModel,
    CLIPVisionModel,
    SiglipModel,
    SiglipVisionModel,
    ViTForImageClassification,
    ViTModel,
)

from neuroflow.models.adapters import adapter_file, load_adapter
from neuroflow.models.clip import ClipTower
from neuroflow.models.errors import (
    PICKLE_SUFFIXES,
    SAFE_WEIGHTS,
    ModelNotAvailableError,
    check_finite,
    check_safetensors,
    damaged_file_message,
    pickle_only_message,
)
from neuroflow.models.mini_siglip import SHIPPED_DIR, check_model_files
from neuroflow.models.siglip import SiglipTower
from neuroflow.models.sources import TINY_KW, get_source, source_names
from neuroflow.models.tower import VisionTower
from neuroflow.models.vit import VitTower

__all__ = [
    "ASSETS",
    "BUILTIN_MODELS",
    "DOWNLOAD_COMMAND",
    "TINY_KW",
    "ModelNotAvailableError",
    "check_model_dir",
    "offline_message",
    "load_vision_language_model",
    "load_vision_model",
    "resolve_source",
    "wrap_tower",
]

ASSETS = SHIPPED_DIR.parent
# Built-in sources that are directories on disk (the others are built in memory).
BUILTIN_MODELS = {"mini_siglip": SHIPPED_DIR}
# The `hf` CLI of huggingface_hub >= 1.0 (`huggingface-cli` is gone); a test runs it.
DOWNLOAD_COMMAND = "hf download {repo_id} --local-dir {local_dir}"


def resolve_source(source: str | Path) -> str:
    """Map a built-in on-disk model name (``"mini_siglip"``) to its checked directory.

    Other sources are returned unchanged as strings.
    """
    name = str(source)
    if name in BUILTIN_MODELS:
        return str(check_model_files(BUILTIN_MODELS[name]))
    return name


def check_model_dir(path: Path) -> None:
    """Raise :class:`ModelNotAvailableError` naming what a local model directory lacks.

    Weights must be safetensors (a pickle-only directory is refused with how to convert
    it), and every safetensors file must be whole (a truncated one is named).
    """
    if not path.is_dir():
        raise ModelNotAvailableError(f"{path} is a file, not a model directory")
    if not (path / "config.json").is_file():
        raise ModelNotAvailableError(f"model directory {path} lacks config.json")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        pickles = sorted(f.name for f in path.iterdir() if f.suffix in PICKLE_SUFFIXES)
        if pickles:
            found = f"model directory {path} holds only pickle weights ({', '.join(pickles)})"
            raise ModelNotAvailableError(pickle_only_message(found))
        raise ModelNotAvailableError(f"model directory {path} lacks model.safetensors")
    for file in weights:
        check_safetensors(file)


def wrap_tower(model: nn.Module) -> VisionTower:
    """Adapt an HF vision model (or a full CLIP/SigLIP/ViT classifier model) to a tower."""
    if isinstance(model, (SiglipModel, CLIPModel)):
        model = model.vision_model
    if isinstance(model, ViTForImageClassification):
        model = model.vit
    if isinstance(model, SiglipVisionModel):
        return SiglipTower(model)
    if isinstance(model, CLIPVisionModel):
        return ClipTower(model)
    if isinstance(model, ViTModel):
        return VitTower(model)
    raise TypeError(
        f"unsupported vision model {type(model).__name__}; neuroflow adapts SigLIP/SigLIP2 "
        "(FixRes), CLIP and ViT towers"
    )


def _is_path_like(source: str | Path) -> bool:
    """True when ``source`` can only mean a directory (a ``Path``, or not a valid hub id).

    ``org/name`` strings are valid hub ids *and* relative paths; those stay ambiguous.
    """
    if isinstance(source, Path) or source.startswith((".", "/", "~")):
        return True
    try:
        validate_repo_id(source)
    except HFValidationError:
        return True
    return False


def offline_message(
    source: str,
    err: Exception,
    *,
    what: str = "model",
    known: list[str] | None = None,
    key: str = "model.source",
) -> str:
    """The error text for a hub id that is neither cached nor reachable: how to fetch it.

    Args:
        source: The hub id.
        err: The loader's error (its text goes on the second line).
        what: What failed to load (``"model"``, ``"causal LM"``).
        known: The built-in source names (default: the registered vision sources).
        key: The config key that takes a local path instead.
    """
    # Everything needed to act goes in the first line: the CLI prints only first lines.
    local = f"models/{Path(source).name or 'model'}"
    download = DOWNLOAD_COMMAND.format(repo_id=source, local_dir=local)
    names = ", ".join(known if known is not None else source_names())
    return (
        f"could not load {what} {source!r}: it is not a registered source ({names}) nor a "
        f"local directory, and as a hub id it is not cached and the hub cannot be reached; on "
        f"a machine with network run `{download}`, copy {local} here and pass its path (e.g. "
        f"{key}=./{local})\ncause: {type(err).__name__}: {str(err).strip()}"
    )


def _hf_class(source: str) -> type[nn.Module]:
    config = AutoConfig.from_pretrained(source)
    model_type = getattr(config, "model_type", "")
    if model_type.startswith("siglip"):
        return SiglipVisionModel
    if model_type.startswith("clip"):
        return CLIPVisionModel
    if model_type == "vit":
        return ViTModel
    raise ValueError(f"{source!r} is a {model_type!r} model; expected SigLIP, CLIP or ViT")


def _local_or_hub(source: str | Path) -> tuple[str, bool]:
    """``(what to pass to from_pretrained, whether it is a local directory)``, checked."""
    path = Path(source).expanduser()
    if path.exists():
        check_model_dir(path)
        return str(path), True
    if _is_path_like(source):
        raise ModelNotAvailableError(
            f"no model directory at {path.absolute()}; pass an existing directory written by "
            "save_pretrained (config.json + model.safetensors), a hub id or a registered "
            f"source ({', '.join(source_names())})"
        )
    return str(source), False


def _hub_weights_message(source: str, err: Exception) -> str | None:
    """The message for hub weights that are pickle-only or damaged, else None."""
    if isinstance(err, SafetensorError):
        cached = try_to_load_from_cache(source, "model.safetensors")
        where = cached if isinstance(cached, str) else f"the cached weights of {source!r}"
        return damaged_file_message(where, err)
    if "cannot be loaded with `safetensors`" in str(err):
        # Offline this also means "weights not downloaded": the message says both.
        found = (
            f"hub model {source!r} has no model.safetensors in the cache (nor on the hub, "
            "when online): its weights are not downloaded, or only pickle (pytorch_model.bin)"
        )
        return pickle_only_message(found)
    return None


def _from_pretrained(source: str, is_local: bool, load: Callable[[], object]) -> object:
    try:
        return load()
    except (OSError, ValueError, SafetensorError) as err:
        if isinstance(err, ValueError) and "expected SigLIP" in str(err):
            raise
        if is_local:
            raise ModelNotAvailableError(
                f"could not read model directory {source}: {type(err).__name__}: {err}"
            ) from err
        message = _hub_weights_message(source, err)
        raise ModelNotAvailableError(message or offline_message(source, err)) from err


def _label(source: str | Path, registered: bool, adapter: str | Path | None = None) -> str:
    """How messages name a source: a registered name, or the directory / hub id."""
    label = f"source {str(source)!r}" if registered else repr(str(source))
    return label if adapter is None else f"{label} with adapter {adapter}"


def _merge_adapter(model: nn.Module, adapter: str | Path) -> nn.Module:
    """``model`` in float32 with ``adapter`` merged into its vision tower (shared modules)."""
    model = model.to(dtype=torch.float32)
    load_adapter(model if isinstance(model, VisionTower) else wrap_tower(model), adapter)
    return model


def load_vision_model(
    source: str | Path,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    seed: int = 0,
    adapter: str | Path | None = None,
) -> VisionTower:
    """Load a vision tower and wrap it for the sparse architectures.

    Args:
        source: A registered source name (``"tiny-siglip"`` / ``"tiny-clip"`` /
            ``"tiny-vit"``: random, offline; ``"mini_siglip"``: the shipped trained model;
            see :func:`~neuroflow.models.sources.register_source`), a local directory
            written by ``save_pretrained`` (a ``Path`` is always read as a directory), or a
            hub id.
        dtype: Parameter dtype.
        device: Device to load onto.
        seed: Seed of sources with random weights.
        adapter: An adapter file (``neuroflow-distill``) merged into the tower; None: the
            base model.

    Returns:
        The tower in eval mode.

    Raises:
        ModelNotAvailableError: The model cannot be found or read; the message says what is
            missing (and, for a hub id, what to download and where to put it). Also for
            weights that are pickle-only, damaged, or hold NaN/inf (trained sources and
            merged adapters), and for a missing adapter file.
        ValueError: The adapter is not an adapter file or was made for another model.
    """
    if adapter is not None:
        adapter_file(adapter)  # fail before a long load
    named = get_source(source) if isinstance(source, str) else None
    if named is not None:
        model = named.vision(seed)
    else:
        name, local = _local_or_hub(source)
        model = _from_pretrained(
            name,
            local,
            lambda: _hf_class(name).from_pretrained(
                name, attn_implementation="sdpa", **SAFE_WEIGHTS
            ),
        )
    tower = model if isinstance(model, VisionTower) else wrap_tower(model)
    if adapter is not None:
        tower = _merge_adapter(tower, adapter)
    tower = tower.to(device=device, dtype=dtype).eval()
    if adapter is not None or named is None or not named.random_weights:
        check_finite(tower, _label(source, named is not None, adapter))
    return tower


def load_vision_language_model(
    source: str | Path,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    adapter: str | Path | None = None,
) -> tuple[nn.Module, object]:
    """Load a full image-text model (SigLIP or CLIP) and its processor for zero-shot use.

    Args:
        source: A registered source with a text tower (``"mini_siglip"``; ``"tiny-siglip"``
            is a random tiny model for smoke runs), a local directory or a hub id.
        dtype: Parameter dtype.
        device: Device to load onto.
        adapter: An adapter file (``neuroflow-distill``) merged into the vision tower (the
            text tower is unchanged); None: the base model.

    Returns:
        ``(model, processor)``: the HF ``SiglipModel``/``CLIPModel`` in eval mode and its
        ``AutoProcessor``.

    Raises:
        ModelNotAvailableError: The model cannot be found or read, its weights are
            pickle-only, damaged or not finite, the registered source has no text tower, or
            the adapter file is missing.
        ValueError: The adapter is not an adapter file or was made for another model.
    """
    if adapter is not None:
        adapter_file(adapter)  # fail before a long load
    named = get_source(source) if isinstance(source, str) else None
    if named is not None:
        if named.vision_language is None:
            raise ModelNotAvailableError(
                f"model source {source!r} has no text tower; zero-shot evaluation needs an "
                "image-text model (e.g. mini_siglip, tiny-siglip, a CLIP/SigLIP directory)"
            )
        model, processor = named.vision_language()
        random_weights = named.random_weights
    else:
        name, local = _local_or_hub(source)
        model = _from_pretrained(
            name,
            local,
            lambda: AutoModel.from_pretrained(name, attn_implementation="sdpa", **SAFE_WEIGHTS),
        )
        processor = _from_pretrained(name, local, lambda: AutoProcessor.from_pretrained(name))
        random_weights = False
    if adapter is not None:
        model = _merge_adapter(model, adapter)
    model = model.to(device=device, dtype=dtype).eval()
    if adapter is not None or not random_weights:
        check_finite(model, _label(source, named is not None, adapter))
    return model, processor
