"""The speed items: wall-clock latency and speedup of Arch A, B (before and after
distillation) and C against dense, DynamicViT-style dropping and ToMe (T11-T17, T19, F1, F3).

The paper's setting needs a GPU and the hub weights; the offline counterparts time
random-weight or mini models on the CPU at small resolutions.
"""

from __future__ import annotations

from neuroflow.paper import ours_speed as ours
from neuroflow.paper.items import GPU, PaperItem

_GPU = "model.device=cuda model.dtype=float16"
_B_DISTILLED = "model.adapter=<distill run>/adapter.safetensors"

SPEED_ITEMS: tuple[PaperItem, ...] = (
    PaperItem(
        "T11",
        "Pareto latency: SO400M Arch C vs base dense",
        "SO400M Arch C 3.79x (392p), 9.71x (560p), 17.65x (784p); base 224p 0.95x",
        f"neuroflow-bench model=siglip_so400m_p14_384 {_GPU} gate=maxsparse target_keep=[] "
        "'resolutions=[392,560,784]' 'methods=[dense,C]' frames=1000 "
        "&& neuroflow-eval -m experiment=t5_degradation_law paths.data_dir=/data",
        "neuroflow-bench 'resolutions=[224,448]' 'methods=[dense,C]'",
        GPU,
        ours.pareto_latency,
    ),
    PaperItem(
        "T12",
        "DynamicViT-style dropping vs NeuroFlow at 1792p",
        "DyViT Light / Medium / Heavy 0.70x / 1.04x / 1.38x; NeuroFlow Balanced / Aggressive / "
        "MaxSparse 8.95x / 48.78x / 64.65x",
        "neuroflow-bench experiment=t12_dynamicvit_1792",
        "neuroflow-bench experiment=t12_dynamicvit_1792 model=random_siglip_b16 "
        "model.device=cpu model.dtype=float32 'resolutions=[448]' frames=8",
        GPU,
        ours.dynamicvit,
    ),
    PaperItem(
        "T13",
        "Arch B after distillation, SigLIP v1",
        "fidelity 95.9-99.0% at 85-93% skip; 2.60x (224p fp32) to 45.32x (1792p fp16); "
        "UCF-101 top-1 of the fine-tuned model 2.40%",
        "neuroflow-distill experiment=t13_arch_b_distill_siglip paths.data_dir=/data "
        f"trainer=distill_gpu && neuroflow-bench model=siglip_base_p16_224 {_B_DISTILLED} {_GPU} "
        "target_keep=[] 'resolutions=[224,448,896,1792]' 'methods=[dense,B]'",
        "neuroflow-distill",
        GPU,
        ours.distill,
    ),
    PaperItem(
        "T14",
        "Arch B after distillation, SigLIP 2",
        "fidelity 96.67-99.79% at ~97% skip; 1.05x (224p) to 10.20x (896p), 55.80x at 1792p",
        "neuroflow-distill -m experiment=t14_arch_b_distill_siglip2 paths.data_dir=/data "
        f"trainer=distill_gpu && neuroflow-bench model=siglip2_base_p16_224 {_B_DISTILLED} "
        f"{_GPU} target_keep=[] 'resolutions=[224,448,896,1792]' 'methods=[dense,B]'",
        "neuroflow-distill",
        GPU,
        ours.distill,
    ),
    PaperItem(
        "T15",
        "Multi-domain generalisation (race and drone video)",
        "Arch B 1.03-8.53x (race), 1.04-7.23x (drone) at 224-896p; skip 51.5-78.1%, fidelity > 93%",
        f"neuroflow-bench model=siglip_base_p16_224 {_B_DISTILLED} {_GPU} target_keep=[] "
        "'resolutions=[224,448,896]' 'methods=[dense,B]' video=<first-person video file>",
        "neuroflow-bench 'resolutions=[224,448]' 'methods=[dense,B]' target_keep=[] "
        "video=<any video file>",
        "not reproducible: the race and drone videos are unreleased (any first-person video "
        "stands in)",
        ours.other_video,
    ),
    PaperItem(
        "T16",
        "Arch B latency spread (IQR, P5-P95)",
        "1792p dense 637.61 ms; MaxSparse 10.82 ms (58.93x), Balanced P95 254.58 ms",
        f"neuroflow-bench -m model=siglip2_base_p16_224 {_B_DISTILLED} {_GPU} target_keep=[] "
        "'resolutions=[224,896,1792]' 'methods=[dense,B]' frames=1000 "
        "gate=balanced,aggressive,maxsparse",
        "neuroflow-bench -m 'resolutions=[224,448]' 'methods=[dense,B]' target_keep=[] "
        "gate=balanced,aggressive,maxsparse",
        GPU,
        ours.latency_spread,
    ),
    PaperItem(
        "T17",
        "Architecture A: the Amdahl ceiling",
        "ViT-B/16 at 81.9% skip: 0.60x (224p), 1.15x (896p), 1.10x (1792p); fidelity 97.1%",
        f"neuroflow-bench model.source=random:vit-b16 {_GPU} 'resolutions=[224,896,1792]' "
        "'methods=[dense,A]' 'target_keep=[0.181]'",
        "neuroflow-bench model.source=random:vit-b16 'resolutions=[224,448]' "
        "'methods=[dense,A]' 'target_keep=[0.181]' && neuroflow-eval arch=a",
        GPU,
        ours.arch_a,
    ),
    PaperItem(
        "T19",
        "Latency distribution and measurement confidence",
        "224p 1.03-1.04x; 1792p Aggressive 30.61x [25.10-31.91], MaxSparse 33.30x [32.80-33.88]",
        f"neuroflow-bench -m model=siglip2_base_p16_224 {_B_DISTILLED} {_GPU} target_keep=[] "
        "'resolutions=[224,1792]' 'methods=[dense,B]' frames=1000 gate=aggressive,maxsparse",
        "neuroflow-bench -m 'resolutions=[224,448]' 'methods=[dense,B]' target_keep=[] "
        "gate=aggressive,maxsparse",
        GPU,
        ours.latency_spread,
    ),
    PaperItem(
        "F1",
        "Teaser: Arch B speedup and fidelity vs resolution",
        "fp16 1.02x / 1.92x / 8.29x / 45.32x at 224-1792p; fidelity 99.04 -> 95.85%",
        "neuroflow-distill experiment=t13_arch_b_distill_siglip paths.data_dir=/data "
        f"trainer=distill_gpu && neuroflow-bench model=siglip_base_p16_224 {_B_DISTILLED} {_GPU} "
        "target_keep=[] 'resolutions=[224,448,896,1792]' 'methods=[dense,B]'",
        "neuroflow-bench 'resolutions=[224,448,896]' 'methods=[dense,B,C]'",
        GPU,
        ours.speedup_by_resolution,
    ),
    PaperItem(
        "F3",
        "NeuroFlow vs ToMe: speedup vs resolution",
        "ToMe r=8-64 0.77-0.89x (224p), <= 1.16x (448p), <= 1.21x (896p); NeuroFlow 1.43-1.46x, "
        "2.36-2.44x, 5.21-11.51x",
        "neuroflow-bench experiment=f3_tome_comparison",
        "neuroflow-bench experiment=f3_tome_comparison model=random_siglip_b16 model.device=cpu "
        "model.dtype=float32 frames=16",
        GPU,
        ours.tome,
    ),
)
