"""Structured-config schemas of the commands, registered in Hydra's ConfigStore.

Every entry config (``eval.yaml``, ``bench.yaml``) starts from its schema, so a misspelled
key, an unknown key or a value of the wrong type fails before the run. The gate and cache
schemas are *derived* from :class:`~neuroflow.core.gate.GateConfig` and
:class:`~neuroflow.core.cache.CorticalCache`, and the benchmark's from
:class:`~neuroflow.bench.BenchSettings`, so a field added there is a config key at once and
no setting is copied by hand.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, make_dataclass
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from neuroflow.analysis.study import AnalysisSettings
from neuroflow.bench.streams import StreamBenchSettings
from neuroflow.bench.suite import BenchSettings
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateConfig
from neuroflow.distill.curriculum import Curriculum
from neuroflow.distill.losses import DistillLoss
from neuroflow.distill.optim import OptimSettings
from neuroflow.distill.trainable import TrainableSpec
from neuroflow.glyphs.speed import SpeedSettings
from neuroflow.llm.study import StudySettings
from neuroflow.llm.texts import TextSettings

# BenchSettings fields that come from the model and gate groups instead of top-level keys.
BENCH_MODEL_KEYS = {
    "model": "source",
    "adapter": "adapter",
    "dtype": "dtype",
    "device": "device",
    "threads": "threads",
}


def _config_type(hint: Any) -> Any:
    """A type OmegaConf can check: ``Literal`` -> its value type, ``X | None`` -> Optional."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return type(typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return Optional[_config_type(args[0])] if len(args) == 1 else Any  # noqa: UP045
    if origin in (list, tuple):  # OmegaConf holds tuples as lists
        return list[_config_type(typing.get_args(hint)[0])]
    return hint


def schema_of(cls: type, name: str, target: str | None = None, skip: tuple[str, ...] = ()) -> type:
    """A schema dataclass with the fields, types and defaults of dataclass ``cls``.

    Args:
        cls: The dataclass the config describes.
        name: Name of the schema class.
        target: ``_target_`` of the node (Hydra instantiates ``cls`` from it), or None.
        skip: Fields of ``cls`` left out of the schema.
    """
    hints = typing.get_type_hints(cls)
    specs: list[tuple] = [("_target_", str, field(default=target))] if target else []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.default_factory is not dataclasses.MISSING:
            default = field(default_factory=f.default_factory)
        else:
            default = field(default=f.default)
        specs.append((f.name, _config_type(hints[f.name]), default))
    return make_dataclass(name, specs)


GateSchema = schema_of(GateConfig, "GateSchema", "neuroflow.core.gate.GateConfig")
CacheSchema = schema_of(CorticalCache, "CacheSchema", "neuroflow.core.cache.CorticalCache")
SpeedSchema = schema_of(SpeedSettings, "SpeedSchema")


@dataclass
class ModelSchema:
    """The ``model`` group: which weights, in which dtype, on which device."""

    source: str = "mini_siglip"
    dtype: str = "float32"
    device: str = "cpu"
    image_size: Optional[int] = None  # noqa: UP045 (OmegaConf needs typing.Optional)
    resize: str = "square"
    threads: Optional[int] = None  # noqa: UP045
    adapter: Optional[str] = None  # noqa: UP045 (a distilled adapter file put on the base)


@dataclass
class LoggerSchema:
    """The ``logger`` group: the W&B mirror of a run's results (offline by default)."""

    enabled: bool = False
    project: str = "neuroflow"
    mode: Optional[str] = None  # noqa: UP045
    group: Optional[str] = None  # noqa: UP045
    tags: list[str] = field(default_factory=list)


@dataclass
class PathsSchema:
    """The ``paths`` group."""

    root_dir: str = "."
    data_dir: str = "data"
    output_root: str = "outputs"
    output_dir: str = "."


@dataclass
class PromptsSchema:
    """The ``prompts`` group: class names (None: the dataset's) and templates."""

    class_names: Optional[list[str]] = None  # noqa: UP045
    templates: list[str] = field(default_factory=list)


@dataclass
class EvalSchema:
    """``neuroflow-eval``: dense vs a sparse method on the same clips."""

    task_name: str = "eval"
    seed: int = 0
    aggregation: str = "mean"
    batch_size: int = 8
    num_workers: int = 0
    skip_if_done: bool = True
    verbose: bool = False
    model: ModelSchema = field(default_factory=ModelSchema)
    arch: Any = None  # make_arch checks the method's own settings, naming any that don't apply
    gate: GateSchema = field(default_factory=GateSchema)  # type: ignore[valid-type]
    cache: CacheSchema = field(default_factory=CacheSchema)  # type: ignore[valid-type]
    schedule: Any = None
    dataset: Any = None
    prompts: PromptsSchema = field(default_factory=PromptsSchema)
    trainer: Any = None
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    callbacks: Any = None
    paths: PathsSchema = field(default_factory=PathsSchema)


_BenchOwn = schema_of(BenchSettings, "_BenchOwn", skip=(*BENCH_MODEL_KEYS, "gate"))


@dataclass
class BenchSchema(_BenchOwn):  # type: ignore[valid-type, misc]
    """``neuroflow-bench``: every :class:`BenchSettings` field, with the model and gate groups."""

    task_name: str = "bench"
    plots: bool = True
    verbose: bool = False
    model: ModelSchema = field(default_factory=ModelSchema)
    gate: GateSchema = field(default_factory=GateSchema)  # type: ignore[valid-type]
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)


@dataclass
class StreamSchema:
    """``neuroflow-stream``: videos through the multi-stream engine."""

    task_name: str = "stream"
    inputs: list[str] = field(default_factory=lambda: ["bikes"])
    start: int = 0
    stride: int = 1
    max_frames: Optional[int] = None  # noqa: UP045
    target_keep: Optional[float] = None  # noqa: UP045
    controller_gain: float = 0.5
    labels: Optional[str] = None  # noqa: UP045
    templates: list[str] = field(default_factory=lambda: ["a photo of {}."])
    window: int = 8
    embeddings: str = "npy"
    overlay: bool = True
    gif: bool = True
    gif_frames: int = 48
    gif_max_side: int = 320
    overlay_max_side: Optional[int] = 960  # noqa: UP045
    seed: int = 0
    verbose: bool = False
    model: ModelSchema = field(default_factory=ModelSchema)
    arch: Any = None
    gate: GateSchema = field(default_factory=GateSchema)  # type: ignore[valid-type]
    cache: CacheSchema = field(default_factory=CacheSchema)  # type: ignore[valid-type]
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)


@dataclass
class BaselinesSchema:
    """``neuroflow-baselines``: every method at matched keep fractions on moving glyphs
    (fields of :class:`~neuroflow.glyphs.baselines.CompareSettings`)."""

    task_name: str = "baselines"
    methods: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=lambda: ["moving", "change"])
    keeps: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.35, 0.5])
    clips: int = 300
    calibration_clips: int = 64
    frames: int = 16
    ema_decay: float = 0.3
    batch_size: int = 128
    seed: int = 0
    calibrate: bool = False
    speed: SpeedSchema = field(default_factory=SpeedSchema)
    goals: dict[str, list[float]] = field(default_factory=dict)
    threads: int = 2
    adapter: Optional[str] = None  # noqa: UP045
    verbose: bool = False
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)


def _distill(cls: type) -> type:
    return schema_of(cls, f"{cls.__name__}Schema", f"{cls.__module__}.{cls.__name__}")


CurriculumSchema = _distill(Curriculum)
LossSchema = _distill(DistillLoss)
TrainableSchema = _distill(TrainableSpec)
OptimSchema = _distill(OptimSettings)


@dataclass
class DataSchema:
    """The ``data`` node of ``neuroflow-distill``: a dataset config per stage."""

    train: Any = None
    val: Any = None
    test: Any = None


@dataclass
class DistillSchema:
    """``neuroflow-distill``: an Arch-B student distilled from the frozen dense model."""

    task_name: str = "distill"
    seed: int = 0
    method: str = "B"
    teacher_source: Optional[str] = None  # noqa: UP045
    batch_size: int = 8
    num_workers: int = 0
    cache_targets: bool = True
    aggregation: str = "mean"
    eval_keep_fractions: list[float] = field(default_factory=lambda: [0.1, 0.25, 0.5])
    ckpt_path: Optional[str] = None  # noqa: UP045
    export_adapter: bool = True
    verbose: bool = False
    model: ModelSchema = field(default_factory=ModelSchema)
    gate: GateSchema = field(default_factory=GateSchema)  # type: ignore[valid-type]
    curriculum: CurriculumSchema = field(default_factory=CurriculumSchema)  # type: ignore[valid-type]
    loss: LossSchema = field(default_factory=LossSchema)  # type: ignore[valid-type]
    trainable: TrainableSchema = field(default_factory=TrainableSchema)  # type: ignore[valid-type]
    optim: OptimSchema = field(default_factory=OptimSchema)  # type: ignore[valid-type]
    data: DataSchema = field(default_factory=DataSchema)
    prompts: PromptsSchema = field(default_factory=PromptsSchema)
    trainer: Any = None
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    callbacks: Any = None
    paths: PathsSchema = field(default_factory=PathsSchema)


@dataclass
class LMSchema:
    """The ``lm`` group: which causal LM, how it runs, and its gate/cache layer pairs."""

    source: str = "mini_lm"
    dtype: Optional[str] = None  # noqa: UP045
    attn_implementation: str = "eager"
    device: str = "cpu"
    pairs: dict[str, list[int]] = field(default_factory=dict)


_LLMOwn = schema_of(StudySettings, "_LLMOwn", skip=("pairs",))
TextSchema = schema_of(TextSettings, "TextSchema")


@dataclass
class LLMSchema(_LLMOwn):  # type: ignore[valid-type, misc]
    """``neuroflow-llm``: every :class:`StudySettings` field (pairs from the lm group) and
    every :class:`TextSettings` field under ``text``."""

    task_name: str = "llm"
    threads: int = 2
    seed: int = 0
    verbose: bool = False
    lm: LMSchema = field(default_factory=LMSchema)
    text: TextSchema = field(default_factory=TextSchema)  # type: ignore[valid-type]
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)


SCHEMAS = {
    "eval": EvalSchema,
    "distill": DistillSchema,
    "bench": BenchSchema,
    "stream": StreamSchema,
    "baselines": BaselinesSchema,
    "llm": LLMSchema,
}


def register_schemas() -> None:
    """Store the schemas (``eval_schema``, ``bench_schema``) for the entry configs' defaults."""
    store = ConfigStore.instance()
    for name, schema in SCHEMAS.items():
        store.store(name=f"{name}_schema", node=schema)


_BenchStreamsOwn = schema_of(
    StreamBenchSettings, "_BenchStreamsOwn", skip=(*BENCH_MODEL_KEYS, "gate")
)


@dataclass
class BenchStreamsSchema(_BenchStreamsOwn):  # type: ignore[valid-type, misc]
    """``neuroflow-bench-streams``: every :class:`StreamBenchSettings` field, with the model
    and gate groups."""

    task_name: str = "bench_streams"
    plots: bool = True
    verbose: bool = False
    model: ModelSchema = field(default_factory=ModelSchema)
    gate: GateSchema = field(default_factory=GateSchema)  # type: ignore[valid-type]
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)


SCHEMAS["bench_streams"] = BenchStreamsSchema


_AnalyzeOwn = schema_of(AnalysisSettings, "_AnalyzeOwn")


@dataclass
class AnalyzeSchema(_AnalyzeOwn):  # type: ignore[valid-type, misc]
    """``neuroflow-analyze``: every :class:`AnalysisSettings` field, with the model, gate,
    cache, dataset and prompts groups of the evaluation."""

    task_name: str = "analyze"
    seed: int = 0
    verbose: bool = False
    model: ModelSchema = field(default_factory=ModelSchema)
    gate: GateSchema = field(default_factory=GateSchema)  # type: ignore[valid-type]
    cache: CacheSchema = field(default_factory=CacheSchema)  # type: ignore[valid-type]
    dataset: Any = None
    prompts: PromptsSchema = field(default_factory=PromptsSchema)
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)


SCHEMAS["analyze"] = AnalyzeSchema


@dataclass
class SegmentSchema:
    """``neuroflow-segment``: emergent segmentation of videos."""

    task_name: str = "segment"
    inputs: list[str] = field(default_factory=lambda: ["glyphs"])
    labels: Optional[str] = None  # noqa: UP045 (OmegaConf needs typing.Optional)
    glyph_clips: int = 4
    glyph_frames: int = 16
    start: int = 0
    stride: int = 1
    max_frames: Optional[int] = None  # noqa: UP045
    min_patches: int = 2
    connectivity: int = 8
    top_k: int = 3
    track_distance: Optional[float] = 0.25  # noqa: UP045
    sheet_frames: int = 8
    sheet_max_side: int = 320
    seed: int = 0
    verbose: bool = False
    model: ModelSchema = field(default_factory=ModelSchema)
    arch: Any = None
    gate: GateSchema = field(default_factory=GateSchema)  # type: ignore[valid-type]
    cache: CacheSchema = field(default_factory=CacheSchema)  # type: ignore[valid-type]
    prompts: PromptsSchema = field(default_factory=PromptsSchema)
    logger: LoggerSchema = field(default_factory=LoggerSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)


SCHEMAS["segment"] = SegmentSchema
