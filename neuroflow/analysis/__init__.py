"""Why sparse inference degrades: the paper's probes, law fits, failure classes, gate quality.

::

    from neuroflow.analysis import TraceSettings, run_probes

    tables = run_probes(tower, clips, TraceSettings(threshold=0.2, ema_decay=0.01))
    print(tables["contextual_incompatibility"])   # active shift vs cache staleness (T7)

``AnalysisStudy`` makes every table of one model and clip set (the ``neuroflow-analyze``
job); the law fits (``degradation_law``, ``saturation_law``, ``capacity_law``), failure
classes and keep-mask quality take per-clip hits and masks from any source. The names load
on first use, so ``neuroflow.analysis.report`` (tables and figures) needs no model code.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FrameTrace": "trace",
    "TraceSettings": "trace",
    "trace_clips": "trace",
    "PROBES": "probes",
    "run_probes": "probes",
    "AnalysisSettings": "study",
    "AnalysisStudy": "study",
    "TABLES": "study",
    "capacity_law": "laws",
    "degradation_law": "laws",
    "hinge_residuals": "laws",
    "saturation_law": "laws",
    "clip_motion": "failure",
    "failure_classes": "failure",
    "failure_quartiles": "failure",
    "mask_quality": "gate_quality",
    "clusters": "patch_clusters",
    "label_clusters": "segmentation",
    "segment_stream": "segmentation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neuroflow.analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f"neuroflow.analysis.{_EXPORTS[name]}"), name)
