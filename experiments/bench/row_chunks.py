"""Does chunking the rows of the packed linears pay off on this machine? (SigLIP-B shapes.)

For each SigLIP-B/16 linear shape this script first gets the throughput table the planner
uses (from the cache of :mod:`neuroflow.models.row_chunks`, measured when missing or with
``--remeasure``), then times each row count with chunking off and on through
:class:`~neuroflow.models.cpu_kernels.PackedLinear` itself, cycling 12 distinct weight
matrices (one per block) so the weights stream from DRAM as in a forward pass, and, as a
control, with the rows forced into chunks of 34 (one stream's tokens at k = 0.17). The
variants take turns within each round and each keeps its fastest round, so load from other
processes hits them alike. Last it times the 12-block encoder on packed ``[1, T, 768]``
inputs with chunking off and on. Tables and timings measured on a busy machine mostly
measure the other load: the script prints the load average.

    python experiments/bench/row_chunks.py               # under 2 minutes on 2 cores
    python experiments/bench/row_chunks.py --remeasure   # ignore cached tables
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence

import torch

from neuroflow.bench.registry import build_tower
from neuroflow.models import row_chunks
from neuroflow.models.cpu_kernels import PackedLinear
from neuroflow.models.row_chunks import LayerShape, row_chunking

SHAPES = {  # SigLIP's MLP uses the tanh GELU
    "qkv": LayerShape(768, 2304, torch.float32),
    "out": LayerShape(768, 768, torch.float32),
    "fc1": LayerShape(768, 3072, torch.float32, "tanh"),
    "fc2": LayerShape(3072, 768, torch.float32),
}
ROWS = (34, 68, 102, 136, 170, 272, 544)
FORCED = 34
BLOCKS = 12


def fastest(fns: Sequence[Callable[[], object]], rounds: int) -> list[float]:
    """Fastest seconds of each of ``fns``, run in turn (the order rotates every round)."""
    for fn in fns:
        fn()  # warm-up: builds each row count's oneDNN primitive
    best = [float("inf")] * len(fns)
    for i in range(rounds):
        for j in [(i + k) % len(fns) for k in range(len(fns))]:
            start = time.perf_counter()
            fns[j]()
            best[j] = min(best[j], time.perf_counter() - start)
    return best


def mode(fn: Callable[[], object], on: bool | str) -> Callable[[], object]:
    """``fn`` run with row chunking set to ``on``."""

    def run() -> object:
        with row_chunking(on):
            return fn()

    return run


def get_table(shape: LayerShape, remeasure: bool) -> tuple[dict[int, float], str]:
    table = None if remeasure else row_chunks.cached_table(shape)
    if table is not None:
        return table, "cached"
    start = time.perf_counter()
    table = row_chunks.measure_row_table(*shape[:3], gelu=shape.gelu)
    row_chunks.save_table(shape, table)
    return table, f"measured in {time.perf_counter() - start:.1f} s"


def layer_table(name: str, shape: LayerShape, rounds: int) -> None:
    gen = torch.Generator().manual_seed(0)
    bias = torch.zeros(shape.out_features)
    layers = [
        PackedLinear(torch.randn(shape.out_features, shape.in_features, generator=gen), bias,
                     shape.gelu)
        for _ in range(BLOCKS)
    ]  # fmt: skip
    print(f"\n{name} {shape.in_features}->{shape.out_features}   GFLOP/s (higher is faster)")
    print(f" rows    off  planned  {FORCED}-row chunks  planned/off  plan")
    for rows in ROWS:
        x = torch.randn(rows, shape.in_features, generator=gen)

        def whole(x=x):
            return [layer(x) for layer in layers]

        def forced(x=x):
            return [torch.cat([layer(part) for part in x.split(FORCED)]) for layer in layers]

        with row_chunking(True):
            sizes = row_chunks.plan_rows(shape, rows)
        off, on, split = fastest([mode(whole, False), mode(whole, True), forced], rounds)
        flop = 2 * rows * shape.in_features * shape.out_features * BLOCKS / 1e9
        print(
            f"{rows:5d}  {flop / off:5.0f}  {flop / on:7.0f}  {flop / split:16.0f}  "
            f"{off / on:11.2f}  {sizes or 'one call'}"
        )


def encoder_table(rounds: int) -> None:
    # weights made outside inference mode: the blocks only pack weights that track versions
    tower = build_tower("random:siglip-b16", torch.float32, "cpu", 0).tower
    print("\nencoder, 12 blocks, packed [1, T, 768]")
    print("    T  ms off  ms on  off/on")
    with torch.inference_mode():
        for t in (68, 136):
            x = torch.randn(1, t, 768)
            encode = lambda x=x: tower.encode(x)  # noqa: E731
            off, on = fastest([mode(encode, False), mode(encode, True)], rounds)
            print(f"{t:5d}  {off * 1e3:6.1f}  {on * 1e3:5.1f}  {off / on:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remeasure", action="store_true", help="ignore cached tables")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per variant")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}, cache {row_chunks.cache_path()}")  # fmt: skip
    with torch.no_grad():
        for name, shape in SHAPES.items():
            table, how = get_table(shape, args.remeasure)
            row_chunks.set_row_table(shape, table)  # the encoder's layers plan from these too
            print(f"{name} table ({how}): " + " ".join(f"{r}:{g:.0f}" for r, g in table.items()))
        for name, shape in SHAPES.items():
            layer_table(name, shape, args.rounds)
    encoder_table(args.rounds)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
