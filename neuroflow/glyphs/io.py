"""Saving and loading the mini SigLIP directory, with errors that name what is missing.

A model directory holds what ``save_pretrained`` writes for the model (``config.json``,
``model.safetensors``) and the processor (``tokenizer.json``, ``tokenizer_config.json``,
``processor_config.json``), plus :data:`META_FILE` with the training recipe and the measured
held-out accuracy. Weights are stored in float16 (half the bytes; the accuracy recorded in
the metadata is measured on the reloaded float16 weights, cast to float32).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from neuroflow.models.loading import (
    BUILTIN_MODELS,
    ModelNotAvailableError,
    load_vision_language_model,
)

META_FILE = "neuroflow_meta.json"
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "processor_config.json",
    META_FILE,
)
SHIPPED_DIR = BUILTIN_MODELS["mini_siglip"]


def save_model(
    model: nn.Module,
    processor: object,
    out_dir: str | Path,
    meta: dict,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Write model (as ``dtype`` safetensors), processor and metadata to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    copy.to(dtype).save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)  # type: ignore[attr-defined]
    write_meta(out, meta)
    return out


def write_meta(out_dir: str | Path, meta: dict) -> None:
    """Write the metadata JSON (sorted keys, so re-runs diff cleanly)."""
    (Path(out_dir) / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def check_model_files(path: str | Path) -> Path:
    """Raise :class:`ModelNotAvailableError` naming every missing or unreadable file.

    Args:
        path: A mini-SigLIP directory.

    Returns:
        The directory as a ``Path``.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelNotAvailableError(
            f"mini SigLIP directory {path} does not exist; train one with "
            "`neuroflow-train-mini --out DIR` or restore neuroflow/assets/mini_siglip"
        )
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelNotAvailableError(
            f"mini SigLIP directory {path} lacks {', '.join(missing)}; re-create it with "
            "`neuroflow-train-mini --out DIR` (or restore the shipped files from git)"
        )
    damaged = [name for name in REQUIRED_FILES if not _readable(path / name)]
    if damaged:
        raise ModelNotAvailableError(
            f"mini SigLIP directory {path} has damaged file(s) {', '.join(damaged)} "
            "(truncated or not valid JSON/safetensors); re-create or restore them"
        )
    return path


def _readable(file: Path) -> bool:
    try:
        if file.suffix == ".json":
            json.loads(file.read_text())
        else:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    handle.get_slice(key)
        return True
    except Exception:  # noqa: BLE001 - any parse failure means the file is damaged
        return False


def read_meta(path: str | Path = SHIPPED_DIR) -> dict:
    """The metadata JSON of a model directory (checked first)."""
    return json.loads((check_model_files(path) / META_FILE).read_text())


def load_mini_siglip(path: str | Path = SHIPPED_DIR) -> tuple[nn.Module, object]:
    """Load a mini SigLIP directory (default: the shipped one) as float32 ``(model, processor)``.

    Goes through :func:`neuroflow.models.loading.load_vision_language_model`, the loader used
    for hub checkpoints, after checking every file.

    Raises:
        ModelNotAvailableError: A file is missing or damaged; the message names it.
    """
    path = check_model_files(path)
    return load_vision_language_model(path, dtype=torch.float32)
