"""The accuracy items: zero-shot top-1 under sparse inference on UCF-101 and the analysis of
why it degrades (T1-T10, T18, F2), and the gate-quality rows beyond the paper (X1, X2).

The paper's setting needs UCF-101 and the hub SigLIP weights; the offline counterparts run
``neuroflow-eval`` and ``neuroflow-analyze`` on the mini SigLIP and its synthetic clips.
"""

from __future__ import annotations

from neuroflow.paper import ours_accuracy as ours
from neuroflow.paper.items import UCF, PaperItem

# The paper's settings that every hub command adds.
_HUB = "model=siglip_base_p16_224 dataset=ucf101 prompts=ucf101_single paths.data_dir=/data"
_BENCH_OFFLINE = "neuroflow-bench 'resolutions=[224,448]' 'methods=[dense,B,C]'"


def _analyze(tables: str, extra: str = _HUB) -> str:
    """The hub ``neuroflow-analyze`` command making ``tables`` (comma-separated)."""
    return f"neuroflow-analyze {extra} 'tables=[{tables}]'"


def _offline_analyze(tables: str) -> str:
    """The same tables from the default (offline) analysis settings."""
    return f"neuroflow-analyze 'tables=[{tables}]'"


ACCURACY_ITEMS: tuple[PaperItem, ...] = (
    PaperItem(
        "T1",
        "Representation gap: cos(layer K, final layer)",
        "cos to layer 12: 0.049 (L0), 0.198 (L6), 0.508 (L10); gap 95.1% -> 49.2%; "
        "text: final-layer cos(t, t-1) 0.83 inactive vs 0.41 active",
        _analyze("representation_gap,final_layer_stability"),
        _offline_analyze("representation_gap,final_layer_stability"),
        UCF,
        ours.representation_gap,
    ),
    PaperItem(
        "T2",
        "Architecture D vs C (dense leading layers)",
        "224p, n=400: dense 77.25%, Arch C 73.00% (6.60 ms), Arch D 73.00% (7.81 ms, +1.21 ms)",
        "neuroflow-eval -m experiment=t2_arch_d_vs_c paths.data_dir=/data",
        "neuroflow-eval -m arch=d gate=maxsparse arch.dense_layers=0,1,2",
        UCF,
        ours.arch_d,
    ),
    PaperItem(
        "T3",
        "Arch C failure classes and motion quartiles",
        "gap > 20 pp: Swing +43, YoYo +33, JugglingBalls +29, BoxingPunchingBag +29; "
        "flow quartiles +10 / +8 pp (no trend), centroid displacement +2-4 -> +7-8 pp",
        _analyze("failure_classes,failure_quartiles", f"{_HUB} gate=maxsparse"),
        _offline_analyze("failure_classes,failure_quartiles"),
        UCF,
        ours.failure_classes,
    ),
    PaperItem(
        "T4",
        "MAP recovery: UCF-101 top-1 by inference mode",
        "dense 77.40% / 91.90% top-3; sparse no cache ~1.2%; Arch C 69.60% (55.5% skip), "
        "70.45% (66.3%), 71.55% (84.0%); confidence 2945 dense",
        "neuroflow-eval -m experiment=t4_map_recovery_ucf101 paths.data_dir=/data "
        f"&& {_analyze('pooled_magnitude')}",
        "neuroflow-eval -m arch=b,c gate=conservative,balanced,maxsparse "
        f"&& {_offline_analyze('pooled_magnitude')}",
        UCF,
        ours.map_recovery,
    ),
    PaperItem(
        "T5",
        "Degradation law: gap vs position-embedding stretch",
        "gap 4.25-6.00 pp over stretch 0.59-2.07; fit 4.5 + 0.7 max(0, s - 1) pp",
        "neuroflow-eval -m experiment=t5_degradation_law paths.data_dir=/data "
        f"&& {_analyze('degradation_law', f'{_HUB} gate=maxsparse')}",
        _offline_analyze("degradation_law"),
        UCF,
        ours.degradation_law,
    ),
    PaperItem(
        "T6",
        "Saturation law: gap over the sparsity range",
        "n=800: dense 78.88%; Arch C 73.38-74.25% at 80.0-98.0% skip; gap 4.89 +- 0.32 pp",
        "neuroflow-eval -m experiment=t6_saturation_sweep paths.data_dir=/data "
        f"&& {_analyze('saturation_law')}",
        _offline_analyze("saturation_law"),
        UCF,
        ours.saturation_law,
    ),
    PaperItem(
        "T7",
        "Contextual incompatibility: active shift vs cache staleness",
        "active shift 0.654-0.833, staleness 0.244-0.307, ratio 2.42-2.86x; "
        "staleness ~27% of the gap",
        _analyze("contextual_incompatibility"),
        _offline_analyze("contextual_incompatibility"),
        UCF,
        ours.contextual_incompatibility,
    ),
    PaperItem(
        "T8",
        "Capacity law: big model sparse vs small model dense",
        "SO400M at 224p (stretch 0.59): dense 86.75%, Arch C 81.00-81.50% at 76.6-98.4% skip, "
        "+2.12 to +2.62 pp over base dense 78.88%: dominant everywhere",
        _analyze(
            "capacity_law",
            "model=siglip_so400m_p14_384 model.image_size=224 "
            "dataset=ucf101 prompts=ucf101_single paths.data_dir=/data",
        ),
        _offline_analyze("capacity_law"),
        UCF,
        ours.capacity_law,
    ),
    PaperItem(
        "T9",
        "Arch C UCF-101 summary with speedups",
        "dense 77.40%; Arch B FT 2.40% (9.52x); Arch C 69.60 / 70.45 / 71.55% at "
        "55.5 / 66.3 / 84.0% skip, 3.45x / 3.99x / 7.62x (hardware unstated)",
        "neuroflow-eval -m experiment=t9_arch_c_summary paths.data_dir=/data",
        f"neuroflow-eval -m gate=conservative,balanced,aggressive,maxsparse && {_BENCH_OFFLINE}",
        UCF,
        ours.arch_c_summary,
    ),
    PaperItem(
        "T10",
        "MAP head entropy",
        "base: H_norm 0.0051 in every condition; SO400M 392p: dense 0.800, no cache 0.192, "
        "Arch C 0.799; text: Spearman(attention, surprise) +0.122 dense, +0.183 sparse",
        _analyze(
            "map_entropy,map_surprise_spearman",
            "model=siglip_so400m_p14_384 "
            "model.image_size=392 dataset=ucf101 prompts=ucf101_single paths.data_dir=/data",
        ),
        _offline_analyze("map_entropy,map_surprise_spearman"),
        UCF,
        ours.map_entropy,
    ),
    PaperItem(
        "T18",
        "Arch B without fine-tuning",
        "SigLIP v1 fidelity 76.8% (19.5% skip) -> 45.4% (95.2% skip), 1.32-1.33x",
        "neuroflow-eval -m experiment=t18_arch_b_no_finetune paths.data_dir=/data",
        "neuroflow-eval -m arch=b gate=conservative,aggressive,maxsparse",
        UCF,
        ours.arch_b_no_finetune,
    ),
    PaperItem(
        "F2",
        "Compute-to-accuracy ratio of Arch C",
        "Arch C 71.55% top-1 at 16% of dense compute (1 - skip); 92.4% of dense",
        "neuroflow-eval -m experiment=t9_arch_c_summary paths.data_dir=/data",
        "neuroflow-eval -m gate=conservative,balanced,aggressive,maxsparse && neuroflow-baselines",
        UCF,
        ours.compute_accuracy,
    ),
    PaperItem(
        "X1",
        "Gate precision / recall against ground-truth motion",
        "none: the paper shows the active mask qualitatively (§6)",
        _analyze("gate_quality", "model=siglip_base_p16_224"),
        _offline_analyze("gate_quality"),
        "not in the paper: qualitative only (§6)",
        ours.gate_quality,
    ),
    PaperItem(
        "X2",
        "Emergent segmentation (clusters of active patches, labelled zero-shot)",
        "none: DAVIS / MOT17 evaluation named as future work (§6)",
        "neuroflow-segment 'inputs=[<video>]' model=siglip_base_p16_224 labels=<labels>",
        "neuroflow-segment && " + _offline_analyze("gate_quality"),
        "not in the paper: qualitative only (§6)",
        ours.segmentation,
    ),
)
