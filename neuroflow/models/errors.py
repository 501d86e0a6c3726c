"""The error every model loader raises, and the checks of weights that raise it.

Weights are read from safetensors only (unpickling a checkpoint can run arbitrary code), a
damaged file is named, and loaded weights must be finite: a model whose tensors hold NaN or
inf runs without error but predicts garbage (every class 0), so it is refused at load time.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

# Suffixes of pickle checkpoints (torch.save / pickle): never read by neuroflow.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# from_pretrained arguments of every load: safetensors only, so a directory or hub repo with
# only a .bin fails instead of being unpickled (and torch.load, were it ever reached, would
# refuse anything but tensors).
SAFE_WEIGHTS = {"use_safetensors": True, "weights_only": True}


class ModelNotAvailableError(OSError):
    """A model could not be loaded (offline, misspelled id, or a damaged local directory).

    An ``OSError`` so that callers treating file-system problems as user errors (the CLI
    prints one line for them) treat this one the same way.
    """


def damaged_file_message(file: str | Path, err: object = None) -> str:
    """The one-line message for a truncated or otherwise unreadable safetensors file."""
    cause = f" ({err})" if err else ""
    return (
        f"weights file {file} is damaged: truncated or not a valid safetensors file{cause}; "
        "re-download it (or re-save the model with save_pretrained)"
    )


def check_safetensors(file: str | Path) -> None:
    """Raise :class:`ModelNotAvailableError` naming ``file`` when it cannot be read.

    Opening parses the header and checks that the file covers every tensor it declares
    (what a truncated download breaks); the tensor data itself is not read.
    """
    try:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                handle.get_slice(key)
    except Exception as err:  # noqa: BLE001 - SafetensorError and OS errors alike
        raise ModelNotAvailableError(damaged_file_message(file, err)) from err


def pickle_only_message(what: str) -> str:
    """Why pickle weights are refused and how to convert them, after ``what`` was found."""
    return (
        f"{what}; neuroflow reads weights from safetensors only, since unpickling can run "
        "arbitrary code. If you trust the file, convert it once: load it yourself "
        "(torch.load(..., weights_only=True), or transformers' from_pretrained(DIR, "
        "use_safetensors=False), which does that) and write model.safetensors with "
        "model.save_pretrained(DIR) (transformers >= 5; safe_serialization=True on older "
        "versions)"
    )


@torch.no_grad()
def check_finite(model: nn.Module, source: str) -> None:
    """Raise :class:`ModelNotAvailableError` naming the first non-finite tensor of ``model``.

    One pass over every floating-point parameter and buffer (integer buffers such as
    position ids are always finite).

    Args:
        model: The loaded model.
        source: Where it came from, for the message.
    """
    for name, tensor in chain(model.named_parameters(), model.named_buffers()):
        if not (tensor.is_floating_point() or tensor.is_complex()) or tensor.is_meta:
            continue
        finite = torch.isfinite(tensor)
        if not finite.all():
            bad = int((~finite).sum())
            hint = (
                " (or, when the file is fine, they overflow float16: load in float32/bfloat16)"
                if tensor.dtype == torch.float16
                else ""
            )
            raise ModelNotAvailableError(
                f"model {source}: tensor {name} holds {bad} NaN or infinite value(s) of "
                f"{tensor.numel()}; the weights are damaged: re-download, re-train or re-save "
                f"them{hint}"
            )
