"""Time ragged segment attention: split vs masked (and varlen where it can run).

SigLIP-B attention shapes (12 heads, head dim 64). For every stream count and mean
tokens per stream, the streams get ragged lengths around that mean (a seeded draw in
[0.6, 1.4] x mean), packed into one ``[1, 12, T, 64]`` sequence as the blocks see it. Prints
the best-batch ms of one attention call per backend, masked / split, the one-off cost of
building the block mask (once per frame, shared by all layers) and what ``"auto"`` picks.
The numbers behind the auto rule in ``neuroflow/core/attention.py`` come from this script
(with ``--threads 1``: on a CPU shared with other jobs, two-thread timings swing wildly).

    python experiments/bench/segment_attention.py             # runs in about 25-40 s on 2 cores
    python experiments/bench/segment_attention.py --threads 1 # about 11 s
    python experiments/bench/segment_attention.py --threads 1 --streams 2 4 8 16 64 --means 2 4 8 12
    python experiments/bench/segment_attention.py --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from neuroflow.core import attention
from neuroflow.core.packing import Packing

HEADS, HEAD_DIM = 12, 64
STREAMS = (1, 2, 4, 8, 16)
MEAN_TOKENS = (20, 34, 66, 197)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def ragged_lengths(streams: int, mean: int, gen: torch.Generator) -> list[int]:
    """Lengths around ``mean``; never all equal for 2+ streams (that would be a plain batch)."""
    while True:
        scale = torch.empty(streams).uniform_(0.6, 1.4, generator=gen)
        lengths = [max(1, round(mean * float(s))) for s in scale]
        if streams == 1 or len(set(lengths)) > 1:
            return lengths


def packing_of(lengths: list[int], device: torch.device) -> Packing:
    total = sum(lengths)
    return Packing(torch.arange(total, device=device), lengths, max(lengths))


def best_ms(
    fn: Callable[[], object], sync: Callable[[], None], batches: int = 9, budget_s: float = 0.01
) -> float:
    """Best of up to ``batches`` batches of calls, each ~budget_s long (resists a busy CPU)."""
    fn()
    sync()
    start = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - start, 1e-6)
    inner = max(1, int(budget_s / once))
    batches = max(3, min(batches, int(0.3 / once)))  # slow calls (masked, T ~ 3000): 3 batches
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        times.append((time.perf_counter() - start) / inner)
    return 1e3 * min(times)


def row(streams: int, mean: int, args, gen: torch.Generator, sync) -> str:
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    lengths = ragged_lengths(streams, mean, gen)
    packing = packing_of(lengths, device)
    q, k, v = (
        torch.randn(1, HEADS, sum(lengths), HEAD_DIM, device=device, dtype=dtype) for _ in "qkv"
    )
    scale = HEAD_DIM**-0.5

    def timed(backend) -> float:
        return best_ms(lambda: backend(q, k, v, packing, scale), sync)

    split = timed(attention.split_attention)
    masked = timed(attention.masked_attention)
    mask_build = best_ms(lambda: attention.block_mask(packing_of(lengths, device), device), sync)
    varlen = timed(attention.varlen_attention) if attention.varlen_available(q) else None
    with attention.use_attention_backend("auto"):
        auto = attention.resolve_backend(q, packing)
    varlen_col = f"{varlen:9.3f}" if varlen is not None else f"{'-':>9}"
    return (
        f"{streams:7d} {mean:5d} {sum(lengths):5d} {split:9.3f} {masked:9.3f} "
        f"{masked / split:7.2f} {mask_build:9.3f} {varlen_col}  {auto}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--streams", type=int, nargs="+", default=STREAMS)
    parser.add_argument("--means", type=int, nargs="+", default=MEAN_TOKENS, help="tokens/stream")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    is_cuda = torch.device(args.device).type == "cuda"
    sync = torch.cuda.synchronize if is_cuda else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    print(f"{args.device} {args.dtype}, {torch.get_num_threads()} threads, ms per attention call")
    print("streams  mean     T  split_ms masked_ms  ratio  mask_ms  varlen_ms  auto")
    start = time.perf_counter()
    with torch.inference_mode():
        for streams in args.streams:
            for mean in args.means:
                print(row(streams, mean, args, gen, sync), flush=True)
    print(f"ratio = masked / split; took {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
