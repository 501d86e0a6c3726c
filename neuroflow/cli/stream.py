"""``neuroflow-stream``: videos in, embeddings, statistics, labels and overlays out (Hydra entry).

Every input is one stream of one :class:`~neuroflow.stream.StreamEngine`, so all streams share
each encoder call. Writes ``frames.csv`` (a row per frame of every stream), ``streams.csv``
(one row per stream, with why it ended), ``windows.csv`` (labels only), ``streams/<name>/``
(embeddings, keep masks, overlay MP4 and GIF) and ``results.json``.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.app import hydra_command

log = logging.getLogger(__name__)


def load_model(cfg: DictConfig) -> tuple[Any, Any, Any]:
    """``(tower, image-text model or None, frame transform)`` for the configured source.

    The image-text model (and its processor, which sets the frame size and normalisation) is
    loaded where the source has one; vision-only sources (``random:siglip-b16``) take the
    tower's native size and SigLIP's normalisation, and cannot label.
    """
    from neuroflow.data.transforms import FrameTransform
    from neuroflow.lit.build import build_transform
    from neuroflow.models import ModelNotAvailableError, load_vision_model
    from neuroflow.models.dtypes import parse_dtype
    from neuroflow.models.loading import load_vision_language_model, wrap_tower
    from neuroflow.models.sources import get_source

    dtype, device = parse_dtype(cfg.model.dtype), cfg.model.device
    adapter = cfg.model.get("adapter")  # a distilled adapter merged into the vision tower
    named = get_source(cfg.model.source)
    if named is not None and named.vision_language is None:
        if cfg.labels:
            raise ModelNotAvailableError(
                f"model {cfg.model.source!r} has no text tower, so it cannot label frames; "
                "drop labels= or use an image-text model (mini_siglip, a SigLIP/CLIP id)"
            )
        tower = load_vision_model(
            cfg.model.source, dtype=dtype, device=device, seed=cfg.seed, adapter=adapter
        )
        size = cfg.model.image_size or tower.native_image_size
        return tower, None, FrameTransform(int(size), resize=cfg.model.resize)
    model, processor = load_vision_language_model(
        cfg.model.source, dtype=dtype, device=device, adapter=adapter
    )
    return wrap_tower(model), (model, processor), build_transform(cfg, processor)


def build_labeller(cfg: DictConfig, vision_language: Any) -> Any:
    """The zero-shot labeller of ``cfg.labels`` (None without labels)."""
    from neuroflow.eval.zeroshot import build_classifier, project_image
    from neuroflow.stream.labels import Labeller, parse_labels, unknown_words

    names = parse_labels(cfg.labels)
    if not names:
        return None
    model, processor = vision_language
    templates = list(cfg.templates)
    unknown = unknown_words(processor, names, templates)
    if unknown:
        log.warning(
            "the model's tokenizer does not know %s: those labels carry no meaning for it "
            "(the offline mini SigLIP knows only digit words; use a hub model for real labels)",
            ", ".join(unknown),
        )
    classifier = build_classifier(model, processor, names, templates)
    return Labeller(classifier, partial(project_image, model), int(cfg.window))


def run(cfg: DictConfig, run_dir: str | Path) -> int:
    """Run every input through the engine, write and print the results; returns frames done."""
    import torch

    from neuroflow.cli.stream_console import Bars, print_streams
    from neuroflow.identity import stream_identity
    from neuroflow.lit.build import build_archs
    from neuroflow.results import RunResults
    from neuroflow.stream import StreamEngine
    from neuroflow.stream.inputs import resolve_inputs
    from neuroflow.stream.outputs import OutputSettings
    from neuroflow.stream.session import run_session

    sink = RunResults(run_dir)
    sink.save_config(cfg)
    if cfg.model.threads:
        torch.set_num_threads(int(cfg.model.threads))
    sources, skipped = resolve_inputs(list(cfg.inputs))
    for record in skipped:
        log.warning("skipping %s: %s", record["clip_id"], record["reason"])
    if not sources:
        raise ValueError(f"none of the inputs can be read ({len(skipped)} skipped, see above)")
    tower, vision_language, transform = load_model(cfg)
    labeller = build_labeller(cfg, vision_language) if cfg.labels else None
    _, arch = build_archs(cfg, tower)
    engine = StreamEngine(arch, gain=float(cfg.controller_gain))
    settings = OutputSettings(
        cfg.embeddings, cfg.overlay, cfg.gif, cfg.gif_frames, cfg.gif_max_side,
        cfg.overlay_max_side, cfg.window,
    )  # fmt: skip
    options = {} if cfg.target_keep is None else {"target_keep": float(cfg.target_keep)}
    with Bars(sources, cfg.max_frames, cfg.stride) as bars:
        report = run_session(
            engine, sources, transform, sink.run_dir, settings=settings,
            stream_options=options, start=cfg.start, stride=cfg.stride,
            max_frames=cfg.max_frames, progress=bars.advance,
        )  # fmt: skip
    report.skipped = skipped + report.skipped
    windows = _add_labels(report, labeller) if labeller is not None else []
    sink.add_table("frames", report.frames)
    sink.add_table("streams", report.streams)
    if windows:
        sink.add_table("windows", windows)
    plain = OmegaConf.to_container(cfg, resolve=True)
    identity = stream_identity(plain, [str(s.path) for s in sources])
    sink.write(
        {
            "identity": identity,
            "streams": report.streams,
            "ended": report.ended,
            "skipped": report.skipped,
            "outputs": report.outputs,
            "device": str(engine.device),
        }
    )
    print_streams(report, arch.name, sink.run_dir)
    sink.mirror_to_wandb(cfg.logger, plain, "stream", name=f"stream {arch.name}", group="stream")
    return len(report.frames)


def _add_labels(report: Any, labeller: Any) -> list[dict]:
    """Label every frame row (in place) and return the window rows of every stream."""
    by_stream: dict[str, list[dict]] = {}
    for row in report.frames:
        by_stream.setdefault(row["stream"], []).append(row)
    windows = []
    for name, embeddings in report.embeddings.items():
        labels, logits = labeller.frames(embeddings)
        for row, label, logit in zip(by_stream.get(name, []), labels, logits, strict=True):
            row["label"], row["label_logit"] = label, logit
        windows += [{"stream": name, **w} for w in labeller.windows(embeddings)]
    return windows


main = hydra_command("stream", "neuroflow.cli.stream:run")

if __name__ == "__main__":
    main()
