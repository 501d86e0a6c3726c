"""The mini SigLIP: an unchanged HF ``SiglipModel`` at glyph size, its tokenizer and loading.

Vision: 32x32 input, patch 4 (64 tokens), MAP head. Text: a word-level vocabulary and
``padding="max_length"`` so the last position (which SigLIP's text tower pools) is always
a pad slot. The position table starts from 2-D sin-cos values (still learned), which the
from-scratch prototypes needed to learn glyph shape within CPU minutes.

This module holds what is needed to build and load the model; its training data, captions
and recipe live in the glyphs research package, which imports this one (never the reverse).
A model directory holds what ``save_pretrained`` writes for the model (``config.json``,
``model.safetensors``) and the processor (``tokenizer.json``, ``tokenizer_config.json``,
``processor_config.json``), plus :data:`META_FILE` with the training recipe and measured
held-out accuracy. The shipped directory is :data:`SHIPPED_DIR`; the model source
``"mini_siglip"`` loads it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import (
    PreTrainedTokenizerFast,
    SiglipConfig,
    SiglipModel,
    SiglipProcessor,
    SiglipTextConfig,
    SiglipVisionConfig,
)
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
from transformers.utils import logging as hf_logging

from neuroflow.models.errors import (
    SAFE_WEIGHTS,
    ModelNotAvailableError,
    check_finite,
    check_safetensors,
)

LOGIT_SCALE_INIT = math.log(10.0)
LOGIT_BIAS_INIT = -10.0
PIXEL_MEAN = (0.5, 0.5, 0.5)
PIXEL_STD = (0.5, 0.5, 0.5)
PAD, UNK = "[PAD]", "[UNK]"

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets" / "mini_siglip"
META_FILE = "neuroflow_meta.json"
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "processor_config.json",
    META_FILE,
)


@dataclass(frozen=True)
class ModelSize:
    """Tower sizes of the mini SigLIP.

    Attributes:
        image_size: Input side in pixels.
        patch_size: Patch side in pixels.
        hidden: Vision (and text) width.
        mlp: MLP width of every block.
        layers: Vision blocks.
        heads: Attention heads (vision and text).
        text_layers: Text blocks.
        max_length: Text positions (captions are padded to this length).
    """

    image_size: int = 32
    patch_size: int = 4
    hidden: int = 128
    mlp: int = 512
    layers: int = 4
    heads: int = 4
    text_layers: int = 2
    max_length: int = 16


def size_dict(size: ModelSize) -> dict:
    """JSON-friendly view of a :class:`ModelSize`."""
    return asdict(size)


def siglip_config(size: ModelSize, vocab_size: int, pad_id: int) -> SiglipConfig:
    """The HF config of a mini SigLIP of ``size`` over a ``vocab_size`` vocabulary."""
    vision = SiglipVisionConfig(
        image_size=size.image_size,
        patch_size=size.patch_size,
        hidden_size=size.hidden,
        intermediate_size=size.mlp,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        vision_use_head=True,
    )
    text = SiglipTextConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.mlp,
        num_hidden_layers=size.text_layers,
        num_attention_heads=size.heads,
        max_position_embeddings=size.max_length,
        projection_size=size.hidden,
        pad_token_id=pad_id,
        bos_token_id=pad_id,
        eos_token_id=pad_id,
    )
    return SiglipConfig(text_config=text.to_dict(), vision_config=vision.to_dict())


def sincos_2d(side: int, dim: int) -> torch.Tensor:
    """``[side * side, dim]`` 2-D sine-cosine position table (rows then columns).

    Half of the channels encode the row, half the column, each as sines and cosines at
    geometrically spaced frequencies.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position table needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    coords = torch.arange(side, dtype=torch.float64)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angle = pos.reshape(-1, 1) * omega[None]
        return torch.cat([angle.sin(), angle.cos()], dim=1)

    return torch.cat([encode(rows), encode(cols)], dim=1).float()


def build_model(size: ModelSize, vocab_size: int, pad_id: int, seed: int = 0) -> SiglipModel:
    """A freshly initialised mini SigLIP with sin-cos positions and SigLIP's logit init.

    HF's ``_init_weights`` zeroes ``logit_scale`` and ``logit_bias``; the SigLIP paper
    starts from ``log 10`` and ``-10`` (a strongly negative prior: most pairs are
    negatives), so both are set here by hand.
    """
    torch.manual_seed(seed)
    model = SiglipModel(siglip_config(size, vocab_size, pad_id))
    side = size.image_size // size.patch_size
    with torch.no_grad():
        model.vision_model.embeddings.position_embedding.weight.copy_(sincos_2d(side, size.hidden))
        model.logit_scale.fill_(LOGIT_SCALE_INIT)
        model.logit_bias.fill_(LOGIT_BIAS_INIT)
    return model


def word_vocabulary(texts: Iterable[str]) -> list[str]:
    """``[PAD]``, ``[UNK]``, then every distinct lowercase word of ``texts``, sorted.

    Words are split the way :func:`build_word_tokenizer` splits them (whitespace and
    punctuation), so every word of ``texts`` gets its own id.
    """
    pre = pre_tokenizers.Whitespace()
    words: set[str] = set()
    for text in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(text.lower()))
    return [PAD, UNK, *sorted(words)]


def build_word_tokenizer(words: Sequence[str], max_length: int) -> PreTrainedTokenizerFast:
    """A lowercase, whitespace/punctuation-split word-level fast tokenizer.

    Args:
        words: Vocabulary in id order; must start with ``[PAD]``, ``[UNK]``.
        max_length: ``model_max_length``; ``padding="max_length"`` pads to it.

    Returns:
        A tokenizer that ``save_pretrained``/``AutoTokenizer`` round-trip.
    """
    words = list(words)
    if words[:2] != [PAD, UNK]:
        raise ValueError("the vocabulary must start with [PAD] and [UNK]")
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, unk_token=UNK, model_max_length=max_length
    )


def build_processor(tokenizer: PreTrainedTokenizerFast, image_size: int) -> SiglipProcessor:
    """A ``SiglipProcessor`` (resize, rescale 1/255, normalise to [-1, 1]) around ``tokenizer``.

    The PIL image-processor backend is used because torchvision is not a dependency.
    """
    images = SiglipImageProcessorPil(
        size={"height": image_size, "width": image_size},
        image_mean=list(PIXEL_MEAN),
        image_std=list(PIXEL_STD),
    )
    return SiglipProcessor(image_processor=images, tokenizer=tokenizer)


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
            check_safetensors(file)
        return True
    except (OSError, ValueError):  # ModelNotAvailableError, bad JSON or bad UTF-8
        return False


def read_meta(path: str | Path = SHIPPED_DIR) -> dict:
    """The metadata JSON of a model directory (checked first)."""
    return json.loads((check_model_files(path) / META_FILE).read_text())


def load_mini_siglip(
    path: str | Path = SHIPPED_DIR, *, dtype: torch.dtype = torch.float32
) -> tuple[SiglipModel, SiglipProcessor]:
    """Load a mini SigLIP directory (default: the shipped one) as ``(model, processor)``.

    The weights are stored in float16; they are read with the same ``from_pretrained`` calls
    as a hub checkpoint and cast to ``dtype`` (exact for float32).

    Args:
        path: The model directory.
        dtype: Parameter dtype.

    Returns:
        The HF ``SiglipModel`` in eval mode and its ``SiglipProcessor``.

    Raises:
        ModelNotAvailableError: A file is missing or damaged, or a weight is NaN/inf; the
            message names it.
    """
    path = check_model_files(path)
    # The config is built here and passed on, so transformers never logs its repr: that
    # builds a default SiglipTextConfig (32000 words, bos/eos 49406/49407) whose ids fail
    # transformers' own check (the token-id warnings). The shipped ids (0 of 25) are valid.
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar for a 3 MB file is noise
    try:
        config = SiglipConfig(**json.loads((path / "config.json").read_text()))
        model = SiglipModel.from_pretrained(
            str(path), config=config, attn_implementation="sdpa", **SAFE_WEIGHTS
        )
        processor = SiglipProcessor.from_pretrained(str(path), config=config)
    except (OSError, ValueError, TypeError) as err:
        raise ModelNotAvailableError(f"could not read mini SigLIP directory {path}: {err}") from err
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    model = model.to(dtype=dtype).eval()
    check_finite(model, f"mini SigLIP directory {path}")
    return model, processor


def tiny_vision_language(seed: int = 0) -> tuple[SiglipModel, SiglipProcessor]:
    """A random tiny SigLIP (vision + text) for smoke runs, with the shipped word tokenizer.

    The tokenizer is read from :data:`SHIPPED_DIR` (so no text data is needed here); its
    vocabulary fixes the text embedding table, hence the random weights drawn after it.
    """
    size = ModelSize(
        image_size=32, patch_size=4, hidden=32, mlp=64, layers=2, heads=4, text_layers=1
    )
    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(
            str(SHIPPED_DIR), model_max_length=size.max_length
        )
    except (OSError, ValueError) as err:
        raise ModelNotAvailableError(
            f"the tiny SigLIP needs the shipped tokenizer in {SHIPPED_DIR}: {err}"
        ) from err
    model = build_model(size, len(tokenizer), tokenizer.pad_token_id, seed=seed)
    return model.eval(), build_processor(tokenizer, size.image_size)
