"""The analysis tables (``neuroflow-analyze``) in the paper's layout: T1, T3-T8, T10, X1."""

from __future__ import annotations

from neuroflow.paper.collect import Collected
from neuroflow.paper.tables import Layout, pick_columns

# Analysis tables (neuroflow-analyze): name -> (item, caption, columns, percent columns).
ANALYSIS = {
    "representation_gap": ("T1", "Cosine of each layer's tokens to the final layer's",
                           {"layer": "Layer K", "cos_to_final": "Cos(K, final)",
                            "cos_std": "Std", "gap": "Representation gap"}, ()),
    "final_layer_stability": ("T1", "Final-layer cos(t, t-1) of inactive and active patches",
                              {"status": "Patches", "cos_prev": "Cos(t, t-1)", "cos_std": "Std",
                               "tokens": "Tokens"}, ()),
    "failure_classes": ("T3", "Arch C failure classes (dense minus sparse top-1)",
                        {"class": "Class", "clips": "n", "dense_top1": "Dense T1 (%)",
                         "sparse_top1": "Sparse T1 (%)", "gap_pp": "Gap (pp)"},
                        ("dense_top1", "sparse_top1")),
    "failure_quartiles": ("T3", "Gap by quartile of motion speed and displacement",
                          {"measure": "Measure", "quartile": "Quartile", "low": "From",
                           "high": "To", "clips": "n", "dense_top1": "Dense T1 (%)",
                           "sparse_top1": "Sparse T1 (%)", "gap_pp": "Gap (pp)",
                           "gap_ci_low": "CI low", "gap_ci_high": "CI high"},
                          ("dense_top1", "sparse_top1")),
    "pooled_magnitude": ("T4", "Pooled-embedding norm and confidence (max logit) per condition",
                         {"condition": "Condition", "pooled_norm": "Pooled norm",
                          "max_logit": "Confidence (max logit)", "top1_frame": "Frame T1 (%)"},
                         ("top1_frame",)),
    "degradation_law": ("T5", "Degradation law: gap vs position-embedding stretch",
                        {"stretch": "Stretch", "gap_pp": "Gap (pp)", "fitted_pp": "Fitted (pp)",
                         "residual_pp": "Residual (pp)"}, ()),
    "saturation_law": ("T6", "Saturation law: gap over the sparsity range (TOST vs the mean gap)",
                       {"label": "Config", "skip": "Skip (%)", "gap_pp": "Gap (pp)",
                        "gap_ci_low": "CI low", "gap_ci_high": "CI high", "tost_p": "TOST p",
                        "equivalent": "Equivalent"}, ("skip",)),
    "contextual_incompatibility": ("T7", "Active shift vs cache staleness (1 - cos to dense)",
                                   {"active_shift": "Active shift", "active_shift_std": "Std",
                                    "cache_staleness": "Cache staleness",
                                    "cache_staleness_std": "Std ", "ratio": "Ratio",
                                    "staleness_share": "Staleness share (%)"},
                                   ("staleness_share",)),
    "capacity_law": ("T8", "Capacity law: big model sparse vs small model dense",
                     {"label": "Config", "skip": "Skip (%)", "acc_big_sparse": "Big sparse T1 (%)",
                      "acc_small_dense": "Small dense T1 (%)", "diff_pp": "Diff (pp)",
                      "diff_ci_low": "CI low", "diff_ci_high": "CI high",
                      "p_one_sided": "p (one-sided)", "status": "Status"},
                     ("skip", "acc_big_sparse", "acc_small_dense")),
    "map_entropy": ("T10", "MAP head attention entropy (nats; H_norm = H / ln N)",
                    {"condition": "Condition", "entropy": "H (mean)", "entropy_norm": "H_norm",
                     "entropy_norm_active": "H / ln(tokens seen)", "tokens_seen": "Tokens seen"},
                    ()),
    "map_surprise_spearman": ("T10", "Spearman rho of MAP attention vs gate surprise",
                              {"condition": "Condition", "rho": "rho", "rho_ci_low": "CI low",
                               "rho_ci_high": "CI high", "frames": "Frames",
                               "positive_share": "Positive share (%)"}, ("positive_share",)),
    "gate_quality": ("X1", "Gate precision / recall / IoU against ground-truth motion",
                     {"scope": "Scope", "dataset": "Dataset", "truth": "Truth",
                      "precision": "Precision", "recall": "Recall", "iou": "IoU",
                      "frames_or_clips": "n"}, ()),
}  # fmt: skip


def analysis_layouts(c: Collected) -> list[Layout]:
    """Every analysis table of :data:`ANALYSIS` the runs made (a ``Run`` column when several
    runs made it)."""
    out = []
    for name, (item, caption, columns, percent) in ANALYSIS.items():
        frame = c.analysis.get(name)
        if frame is None or frame.empty:
            continue
        if frame["run"].nunique() > 1:
            columns = {**columns, "run": "Run"}
        out.append(Layout(f"{item}_{name}", item, caption, pick_columns(frame, columns, percent)))
    return out
