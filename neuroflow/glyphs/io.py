"""Saving a trained mini SigLIP directory; checking and loading are re-exported.

Loading and checking a model directory (:func:`load_mini_siglip`,
:func:`check_model_files`, :func:`read_meta`) live in :mod:`neuroflow.models.mini_siglip`,
where the ``"mini_siglip"`` model source needs them. Saving is part of the training recipe
and stays here. Weights are stored in float16 (half the bytes; the accuracy recorded in
the metadata is measured on the reloaded float16 weights, cast to float32).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from neuroflow.models.mini_siglip import (
    META_FILE,
    REQUIRED_FILES,
    SHIPPED_DIR,
    check_model_files,
    load_mini_siglip,
    read_meta,
)

__all__ = [
    "META_FILE",
    "REQUIRED_FILES",
    "SHIPPED_DIR",
    "check_model_files",
    "load_mini_siglip",
    "read_meta",
    "save_model",
    "write_meta",
]


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
