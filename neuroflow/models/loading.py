"""Load a vision tower from a hub id, a local directory or a built-in tiny config.

``load_vision_model("google/siglip-base-patch16-224")`` and
``load_vision_model("/models/siglip-base")`` go through the same ``from_pretrained`` code;
``"tiny-siglip"``, ``"tiny-clip"`` and ``"tiny-vit"`` build small random towers offline
(tests, timing smoke runs). When a hub model is not in the local cache and the network is
unreachable, :class:`ModelNotAvailableError` says what to download and where to put it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoConfig,
    CLIPModel,
    CLIPVisionConfig,
    CLIPVisionModel,
    SiglipModel,
    SiglipVisionConfig,
    SiglipVisionModel,
    ViTConfig,
    ViTForImageClassification,
    ViTModel,
)

from neuroflow.models.clip import ClipTower
from neuroflow.models.siglip import SiglipTower
from neuroflow.models.tower import VisionTower
from neuroflow.models.vit import VitTower

TINY_KW = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=32,
    patch_size=4,
)


ASSETS = Path(__file__).resolve().parent.parent / "assets"
BUILTIN_MODELS = {"mini_siglip": ASSETS / "mini_siglip"}


class ModelNotAvailableError(OSError):
    """A model could not be loaded (offline, misspelled id, or a damaged local directory)."""


def resolve_source(source: str | Path) -> str:
    """Map a built-in model name (e.g. ``"mini_siglip"``) to its shipped directory."""
    name = str(source)
    if name in BUILTIN_MODELS:
        path = BUILTIN_MODELS[name]
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"built-in model {name!r} is missing its files under {path}; re-create them "
                "with `neuroflow-train-mini` or restore them from the repository"
            )
        return str(path)
    return name


def check_model_dir(path: Path) -> None:
    """Raise :class:`ModelNotAvailableError` naming what a local model directory lacks."""
    missing = [f for f in ("config.json",) if not (path / f).is_file()]
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        missing.append("model.safetensors")
    if missing:
        raise ModelNotAvailableError(f"model directory {path} lacks {', '.join(missing)}")


def _tiny_model(family: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if family == "siglip":
        return SiglipVisionModel(SiglipVisionConfig(**TINY_KW))
    if family == "clip":
        return CLIPVisionModel(CLIPVisionConfig(**TINY_KW))
    if family == "vit":
        return ViTModel(ViTConfig(**TINY_KW))
    raise ValueError(f"unknown tiny model family {family!r}")


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


def _offline_message(source: str, err: Exception) -> str:
    local = Path(source).name or "model"
    return (
        f"could not load model {source!r} ({type(err).__name__}: {str(err).splitlines()[0]}).\n"
        f"If this is a hub id, the machine has no network or the model is not cached: on a "
        f"machine with network run\n  huggingface-cli download {source} --local-dir "
        f"models/{local}\nthen copy models/{local} here and pass its path (e.g. "
        f"model.source=models/{local}). If it is a local directory, it must hold config.json "
        f"and model.safetensors written by save_pretrained."
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


def load_vision_model(
    source: str | Path,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> VisionTower:
    """Load a vision tower and wrap it for the sparse architectures.

    Args:
        source: ``"tiny-siglip"`` / ``"tiny-clip"`` / ``"tiny-vit"`` (random, offline), a
            local directory written by ``save_pretrained``, or a hub id.
        dtype: Parameter dtype.
        device: Device to load onto.
        seed: Seed of the random tiny towers.

    Returns:
        The tower in eval mode.

    Raises:
        ModelNotAvailableError: The model cannot be found or read; the message says what to
            download and where to put it.
    """
    source = resolve_source(source)
    if source.startswith("tiny-"):
        hf = _tiny_model(source.removeprefix("tiny-"), seed)
    else:
        hf = _from_pretrained(source, _hf_class)
    return wrap_tower(hf).to(device=device, dtype=dtype).eval()


def _from_pretrained(source: str, pick_class) -> nn.Module:  # noqa: ANN001
    path = Path(source)
    if path.exists():
        check_model_dir(path)
    try:
        return pick_class(source).from_pretrained(source, attn_implementation="sdpa")
    except (OSError, ValueError) as err:
        if isinstance(err, ValueError) and "expected SigLIP" in str(err):
            raise
        raise ModelNotAvailableError(_offline_message(source, err)) from err


def _tiny_vision_language() -> tuple[nn.Module, object]:
    """A random tiny SigLIP (vision + text) with the glyph word tokenizer: smoke runs only."""
    from neuroflow.glyphs.model import ModelSize, build_model, build_processor
    from neuroflow.glyphs.text import build_tokenizer

    size = ModelSize(
        image_size=32,
        patch_size=4,
        hidden=32,
        mlp=64,
        layers=2,
        heads=4,
        text_layers=1,
        max_length=16,
    )
    tokenizer = build_tokenizer(size.max_length)
    model = build_model(size, len(tokenizer), tokenizer.pad_token_id, seed=0)
    return model, build_processor(tokenizer, size.image_size)


def load_vision_language_model(
    source: str | Path, *, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> tuple[nn.Module, object]:
    """Load a full image-text model (SigLIP or CLIP) and its processor for zero-shot use.

    Args:
        source: Built-in name (``"mini_siglip"``; ``"tiny-siglip"`` is a random tiny model
            for smoke runs), local directory or hub id.
        dtype: Parameter dtype.
        device: Device to load onto.

    Returns:
        ``(model, processor)``: the HF ``SiglipModel``/``CLIPModel`` in eval mode and its
        ``AutoProcessor``.
    """
    from transformers import AutoModel, AutoProcessor

    source = resolve_source(source)
    if source == "tiny-siglip":
        model, processor = _tiny_vision_language()
        return model.to(device=device, dtype=dtype).eval(), processor
    model = _from_pretrained(source, lambda _: AutoModel)
    try:
        processor = AutoProcessor.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise ModelNotAvailableError(_offline_message(source, err)) from err
    return model.to(device=device, dtype=dtype).eval(), processor
