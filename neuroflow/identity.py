"""What defines a run, recorded with its results, and a key that groups identical runs.

:func:`run_identity` turns an evaluation's resolved config (a plain dict) into the fields that
decide its numbers: method, gate, schedule, cache, dataset, model and its weights, prompts,
aggregation and seed, plus where the code came from (version, git commit). Its
``identity_key`` hashes everything but the provenance, so two runs share a key exactly when they
ran the same experiment; :mod:`neuroflow.reporting` groups table rows by it.
:func:`bench_identity` does the same for a benchmark run. Nothing here needs Hydra.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import neuroflow

# Provenance: where and when, not what. Left out of the key so a re-run on a newer commit still
# lands in the same row.
PROVENANCE = ("neuroflow_version", "git_commit", "git_dirty", "created")
# Model settings that change speed, not results.
_MODEL_SPEED_ONLY = {"threads"}
# Segments of a key that name a credential; whole segments only, so ``floor_tokens`` stays.
_SECRET_WORDS = {"token", "password", "passwd", "secret", "apikey", "credential", "credentials"}
_SECRET_PAIRS = {("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key")}
# Token-shaped strings (Hugging Face, OpenAI-style keys) under innocent-looking keys.
_SECRET_VALUE = re.compile(r"^(hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,})$")


def is_secret_key(key: str) -> bool:
    """True when ``key`` names a token, API key or password (``hf_token``, ``WANDB_API_KEY``)."""
    parts = [p for p in re.split(r"[^a-z0-9]+", str(key).lower()) if p]
    if any(p in _SECRET_WORDS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(parts, parts[1:], strict=False))


def scrub_secrets(value: Any) -> Any:
    """Copy of ``value`` without credential-like keys or token-shaped strings, at any depth."""
    if isinstance(value, Mapping):
        return {k: scrub_secrets(v) for k, v in value.items() if not is_secret_key(k)}
    if isinstance(value, (list, tuple)):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str) and _SECRET_VALUE.match(value):
        return "<redacted>"
    return value


def short_hash(value: Any, length: int = 12) -> str:
    """Stable short sha256 of a JSON-able value (keys sorted, so dict order does not matter)."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _without(node: Mapping | None, drop: Iterable[str] = ("_target_",)) -> dict:
    return {k: v for k, v in (node or {}).items() if k not in set(drop)}


def _type_name(node: Mapping | None) -> str | None:
    target = (node or {}).get("_target_")
    return str(target).rsplit(".", 1)[-1] if target else None


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the checkout neuroflow runs from; ``(None, None)`` otherwise.

    Only a checkout whose ``neuroflow/`` *is* this package counts: an installed copy inside some
    other repository (a virtual environment in a project folder) must not report that
    repository's commit. Never raises.
    """
    package = Path(neuroflow.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=package, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() / "neuroflow" != package:
            return None, None
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return git("rev-parse", "HEAD"), dirty
    except Exception:  # no git, not a checkout, a timeout: the commit is simply unknown
        return None, None


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _hash_module(model: Any) -> str:
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.named_parameters(), key=lambda item: item[0]):
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _model_node(config_model: Mapping | None, model: Any = None) -> dict:
    """The model settings with the weights' hash, and the adapter file's when one is merged."""
    node = _without(config_model, ("_target_", *_MODEL_SPEED_ONLY))
    digest, how = weights_hash(node.get("source"), model)
    node.update(weights_sha256=digest, weights_from=how)
    adapter = node.get("adapter")
    if adapter and Path(adapter).expanduser().is_file():
        node["adapter_sha256"] = _hash_files([Path(adapter).expanduser()])
    return node


def _weights_dir(source: str) -> Path | None:
    """The local directory holding ``source``'s weight files, when it has one."""
    if source == "mini_siglip":  # the shipped weights: hashing the files is cheap and exact
        from neuroflow.models.mini_siglip import SHIPPED_DIR

        return SHIPPED_DIR
    if source == "mini_lm":
        return Path(neuroflow.__file__).resolve().parent / "assets" / "mini_lm"
    path = Path(source).expanduser()
    return path if path.is_dir() else None


def weights_hash(source: str | None, model: Any = None) -> tuple[str | None, str | None]:
    """``(hash, how)``: a short sha256 of the weights and what was hashed.

    The safetensors files of a local directory (or the shipped mini SigLIP) are hashed when
    there are any (``"files"``), else the passed module's parameters (``"parameters"``). Never
    raises: a failure leaves the hash unknown.
    """
    try:
        folder = _weights_dir(str(source)) if source else None
        files = sorted(folder.glob("*.safetensors")) if folder else []
        if files:
            return _hash_files(files), "files"
        if model is not None:
            return _hash_module(model), "parameters"
    except Exception:  # a hash is a nice-to-have; the run's results matter more
        pass
    return None, None


def _finish(identity: dict) -> dict:
    """Scrub secrets, add the key (of everything but provenance) and the provenance."""
    identity = scrub_secrets(identity)
    identity["identity_key"] = short_hash(identity)
    commit, dirty = git_state()
    identity.update(
        neuroflow_version=neuroflow.__version__,
        git_commit=commit,
        git_dirty=dirty,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    return identity


def _local_paths(value: Any, run_dir: str | None) -> Any:
    """Paths inside the run's own directory, written relative to it (else every run differs)."""
    if isinstance(value, str) and run_dir and value.startswith(run_dir.rstrip("/") + "/"):
        return "<run_dir>/" + value[len(run_dir.rstrip("/")) + 1 :]
    if isinstance(value, Mapping):
        return {k: _local_paths(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_local_paths(v, run_dir) for v in value]
    return value


def dataset_identity(config: Mapping, choices: Mapping | None = None) -> dict:
    """The dataset's name (the Hydra choice, else its target's name) and every field."""
    node = config.get("dataset") or {}
    run_dir = (config.get("paths") or {}).get("output_dir")
    name = (choices or {}).get("dataset") or node.get("source") or _type_name(node)
    return {"name": name, "target": node.get("_target_"), **_local_paths(_without(node), run_dir)}


def run_identity(
    config: Mapping, *, model: Any = None, choices: Mapping | None = None
) -> dict[str, Any]:
    """Everything that defines an evaluation run, for ``results.json``.

    Args:
        config: The resolved config as a plain dict (``OmegaConf.to_container(cfg,
            resolve=True)``). A ``hydra`` node in it supplies the config-group choices.
        model: The loaded model (an ``nn.Module``), hashed when its source has no weight files.
        choices: Config-group choices (``{"dataset": "moving_glyphs", ...}``); default: those
            of ``config["hydra"]``, if any.

    Returns:
        ``method``, ``gate``, ``schedule`` (``type`` + parameters), ``cache``, ``dataset``,
        ``model`` (settings, ``weights_sha256``, ``weights_from``), ``prompts``,
        ``aggregation``, ``seed``, ``evaluation`` (batching and clip limit), ``identity_key``,
        then ``neuroflow_version``, ``git_commit``, ``git_dirty`` and ``created``.
    """
    if not choices:
        choices = ((config.get("hydra") or {}).get("runtime") or {}).get("choices") or {}
    schedule = config.get("schedule")
    trainer = config.get("trainer") or {}
    identity = {
        "kind": "eval",
        "method": _without(config.get("arch")),
        "gate": _without(config.get("gate")),
        "schedule": {"type": _type_name(schedule), **_without(schedule)},
        "cache": _without(config.get("cache")),
        "dataset": dataset_identity(config, choices),
        "model": _model_node(config.get("model"), model),
        "prompts": dict(config.get("prompts") or {}),
        "aggregation": config.get("aggregation"),
        "seed": config.get("seed"),
        # With a batch limit, the batch size decides which clips were seen.
        "evaluation": {
            "batch_size": config.get("batch_size"),
            "limit_test_batches": trainer.get("limit_test_batches"),
        },
    }
    return _finish(identity)


_MACHINE_KEYS = ("cpu", "cpu_count", "gpu", "cuda", "torch", "transformers", "torch_threads")


def bench_identity(meta: Mapping, settings: Any) -> dict[str, Any]:
    """Everything that defines a benchmark run: its settings and the machine's facts.

    Args:
        meta: ``BenchReport.meta`` (machine, software and clip facts).
        settings: The :class:`~neuroflow.bench.BenchSettings` (or a dict of its fields).

    Returns:
        ``model`` (source, dtype, device, ``random_weights``, weight-file hash), ``gate``, every
        other setting, ``machine``, ``identity_key`` and the provenance fields.
    """
    values = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else settings
    values = dict(values)
    source = values.pop("model", None)
    digest, how = weights_hash(source)
    model = {
        "source": source,
        "adapter": values.pop("adapter", None),
        "dtype": values.pop("dtype", None),
        "device": values.pop("device", None),
        "random_weights": meta.get("random_weights"),
        "weights_sha256": digest,
        "weights_from": how,
    }
    gate = values.pop("gate", None)
    values.pop("profile", None)  # the profiler runs apart from the timed rounds
    machine = {k: meta.get(k) for k in _MACHINE_KEYS if meta.get(k) is not None}
    identity = {"kind": "bench", "model": model, "gate": gate, **values, "machine": machine}
    return _finish(identity)


def stream_identity(config: Mapping, inputs: Iterable[str]) -> dict[str, Any]:
    """Everything that defines a ``neuroflow-stream`` run.

    Args:
        config: The resolved config as a plain dict.
        inputs: The resolved stream paths (the config holds the inputs as given).
    """
    keys = ("start", "stride", "max_frames", "target_keep", "controller_gain", "labels")
    identity = {
        "kind": "stream",
        "method": _without(config.get("arch")),
        "gate": _without(config.get("gate")),
        "cache": _without(config.get("cache")),
        "model": _model_node(config.get("model")),
        "inputs": list(inputs),
        **{k: config.get(k) for k in keys},
        "templates": list(config.get("templates") or []),
        "seed": config.get("seed"),
    }
    return _finish(identity)


def segment_identity(config: Mapping, inputs: Iterable[str]) -> dict[str, Any]:
    """Everything that defines a ``neuroflow-segment`` run (see :mod:`neuroflow.identity`)."""
    keys = ("start", "stride", "max_frames", "labels", "min_patches", "connectivity")
    identity = {
        "kind": "segment",
        "method": _without(config.get("arch")),
        "gate": _without(config.get("gate")),
        "cache": _without(config.get("cache")),
        "model": _model_node(config.get("model")),
        "prompts": dict(config.get("prompts") or {}),
        "inputs": list(config.get("inputs") or []),
        "resolved_inputs": list(inputs),
        **{k: config.get(k) for k in keys},
        "glyphs": {k: config.get(k) for k in ("glyph_clips", "glyph_frames")},
        "seed": config.get("seed"),
    }
    return _finish(identity)


def distill_identity(config: Mapping, model: Any = None) -> dict[str, Any]:
    """Everything that defines a ``neuroflow-distill`` run (what a resume must match).

    Args:
        config: The resolved config as a plain dict.
        model: The base model (hashed when its source has no weight files).
    """
    data = config.get("data") or {}
    run_dir = (config.get("paths") or {}).get("output_dir")
    trainer = config.get("trainer") or {}
    identity = {
        "kind": "distill",
        "method": config.get("method"),
        "gate": _without(config.get("gate")),
        "model": _model_node(config.get("model"), model),
        "teacher_source": config.get("teacher_source"),
        **{k: _without(config.get(k)) for k in ("curriculum", "loss", "trainable", "optim")},
        "data": {k: _local_paths(_without(v), run_dir) for k, v in data.items()},
        "prompts": dict(config.get("prompts") or {}),
        "batch_size": config.get("batch_size"),
        "trainer": {k: trainer.get(k) for k in ("max_steps", "precision", "devices", "num_nodes")},
        "seed": config.get("seed"),
    }
    return _finish(identity)


def llm_identity(config: Mapping, model: Any = None) -> dict[str, Any]:
    """Everything that defines a ``neuroflow-llm`` run (what a resume must match).

    Args:
        config: The resolved config as a plain dict.
        model: The causal LM (hashed when its source has no weight files).

    Returns:
        ``kind``, ``model`` (the lm node with the weights' hash), ``settings`` (every study
        and text setting: the rows depend on them), ``seed``, the key and the provenance.
    """
    lm = dict(config.get("lm") or {})
    digest, how = weights_hash(lm.get("source"), model)
    skip = {"lm", "logger", "paths", "hydra", "verbose", "task_name", "threads"}
    settings = {k: v for k, v in config.items() if k not in skip}
    settings["lm"] = {k: v for k, v in lm.items() if k != "device"}
    identity = {
        "kind": "llm",
        "model": {**lm, "weights_sha256": digest, "weights_from": how},
        "settings": settings,
    }
    return _finish(identity)


def analysis_identity(config: Mapping, model: Any = None) -> dict[str, Any]:
    """Everything that defines a ``neuroflow-analyze`` run (what a resume must match).

    Args:
        config: The resolved config as a plain dict.
        model: The loaded model (hashed when its source has no weight files).

    Returns:
        ``kind``, ``model`` (with the weights' hash), ``gate``, ``cache``, ``dataset``,
        ``prompts``, ``settings`` (the study's own settings), ``seed``, the key and the
        provenance.
    """
    skip = {"model", "gate", "cache", "dataset", "prompts", "logger", "paths", "hydra"}
    skip |= {"verbose", "task_name", "threads", "seed"}
    identity = {
        "kind": "analysis",
        "model": _model_node(config.get("model"), model),
        "gate": _without(config.get("gate")),
        "cache": _without(config.get("cache")),
        "dataset": _without(config.get("dataset")),
        "prompts": dict(config.get("prompts") or {}),
        "settings": {k: v for k, v in config.items() if k not in skip},
        "seed": config.get("seed"),
    }
    return _finish(identity)


def hydra_choices() -> dict[str, str]:
    """The running Hydra job's config-group choices; empty outside a Hydra job."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return {k: v for k, v in HydraConfig.get().runtime.choices.items() if v is not None}
    except Exception:  # outside Hydra there are no choices to report
        pass
    return {}


def run_label(identity: Mapping, method: str | None = None) -> str:
    """A W&B run name that says what ran.

    ``eval <method> mini_siglip moving_glyphs``, where ``method`` is the console's name of the
    method (e.g. ``Arch C θ=0.20 α=0.01 hard cache``) when given, else its registry name with
    θ, α and a non-constant schedule; ``bench random:siglip-b16 224px``.
    """
    model = (identity.get("model") or {}).get("source")
    if identity.get("kind") == "bench":
        sizes = ",".join(str(s) for s in identity.get("resolutions") or [])
        return f"bench {model} {sizes}px"
    parts = ["eval", method or _short_method(identity)]
    parts += [str(model), str((identity.get("dataset") or {}).get("name"))]
    return " ".join(parts)


def _short_method(identity: Mapping) -> str:
    gate = identity.get("gate") or {}
    parts = [str((identity.get("method") or {}).get("name"))]
    if gate.get("threshold") is not None:
        parts.append(f"θ={gate['threshold']:.2f}")
    if gate.get("ema_decay") is not None:
        parts.append(f"α={gate['ema_decay']:g}")
    schedule = (identity.get("schedule") or {}).get("type")
    if schedule and schedule != "Constant":
        parts.append(schedule)
    return " ".join(parts)
