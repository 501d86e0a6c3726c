"""Why a sparse frame at 224 px stays below its FLOP ceiling on CPU: GEMM speed vs rows.

A SigLIP-B/16 frame at 224 px with k = 0.17 sends ~33 tokens through the encoder, so every
linear layer is a product with ~33 rows. This script times the packed oneDNN product the
blocks use, per row count, twice: with one weight matrix that stays in cache, and cycling
through 36 distinct matrices (340 MB, the size of ViT-B's fp32 linear weights) so the weights
stream from DRAM as they do in a real forward pass. It then times the real encoder on n
tokens against n = 196 and prints each one's share of its FLOP ceiling.

    python experiments/bench/gemm_rows.py            # about a minute on 2 cores
"""

from __future__ import annotations

import time

import torch

from neuroflow.bench.registry import build_tower

ROWS = (19, 33, 49, 66, 133, 196, 784)
LAYERS_OF_WEIGHTS = 36  # 12 blocks x (QKV+O, fc1, fc2) ~ 340 MB in fp32


def median_seconds(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def gemm_table() -> None:
    pack = torch.ops.mkldnn._reorder_linear_weight
    linear = torch.ops.mkldnn._linear_pointwise
    weights = [pack(torch.randn(3072, 768), 64) for _ in range(LAYERS_OF_WEIGHTS)]
    print("rows  GFLOP/s cached  GFLOP/s streamed  weight stream GB/s")
    for rows in ROWS:
        x = torch.randn(rows, 768)
        flops = 2 * rows * 768 * 3072

        def run(pick, x=x):
            return [linear(x, pick(w), None, "none", [], "") for w in weights]

        cached = median_seconds(lambda: run(lambda _: weights[0]))
        streamed = median_seconds(lambda: run(lambda w: w))
        n = len(weights)
        print(
            f"{rows:4d}  {n * flops / cached / 1e9:14.0f}  {n * flops / streamed / 1e9:16.0f}  "
            f"{n * 3072 * 768 * 4 / streamed / 1e9:18.1f}"
        )


def encoder_table(tower) -> None:
    full = 196
    per_token, per_pair = 169.9e6, 12 * 4 * 768  # linear FLOPs per token, attention per n^2

    def flops(n: int) -> float:
        return n * per_token + per_pair * n * n

    dense = median_seconds(lambda: tower.encode(torch.randn(1, full, 768)))
    print(f"\nencoder, 12 blocks: dense {full} tokens {dense * 1e3:.1f} ms")
    for n in (19, 33, 49, 66):
        t = median_seconds(lambda n=n: tower.encode(torch.randn(1, n, 768)))
        share = (dense / t) / (flops(full) / flops(n))
        print(
            f"  {n:3d} tokens {t * 1e3:6.1f} ms  speedup {dense / t:5.2f}  of ceiling {share:.2f}"
        )


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    # weights made outside inference mode: the blocks only pack weights that track versions
    siglip_b = build_tower("random:siglip-b16", torch.float32, "cpu").tower
    with torch.inference_mode():
        gemm_table()
        encoder_table(siglip_b)
