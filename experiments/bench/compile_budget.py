"""Does ``torch.compile`` pay on the static-shape (budget-mode) path? Compiled vs eager, per tick.

In budget mode every stream keeps ``ceil(k * N)`` patches, so the encoder sees one fixed
``[B, n, D]`` batch every frame: it compiles once (per ``(B, n)``) and reuses the graph. This
script runs SigLIP-B/16 (random weights) at 224 px in budget mode, k in {0.17, 0.5}, streams in
{1, 8}, and times one tick (one frame of every stream, gate + encoder + head) per variant:

* ``eager-packed``  the default eager path (packed oneDNN kernels in blocks and MAP head),
* ``eager-plain``   eager with ``block.cpu_kernels = False`` (plain linears, head too),
* ``inductor``      :func:`~neuroflow.models.compiled.compile_encoder` (plain blocks under
  inductor; the head stays eager with its packed kernels),
* ``inductor-frz``  the same with ``options={"freezing": True}`` (inductor packs the weights
  for oneDNN itself; weights become constants), with ``--freezing``.

Variants run interleaved tick by tick (in rotating order) on their own stream states over the
same frames, so machine noise hits all alike. The first ``warmup`` ticks (compilation, kernel
packing) are left out of the median; compile time is the first call of every compiled shape.
``/packed`` and ``/plain`` are median ratios to the eager variants; ``best ms`` is the fastest
steady tick (the least disturbed by other load); ``max|d|`` is the largest embedding
difference from ``eager-packed`` over all ticks. Arch B runs without the dense first frame
so every tick has one shape; ``--arch C`` adds it (a second compiled shape, ``warmup`` 2).
Compile times depend on inductor's on-disk FX graph cache (hits and misses are printed): a
second run of the script only re-traces and loads the compiled code.

    python experiments/bench/compile_budget.py               # ~2.5 min on 2 idle cores
    python experiments/bench/compile_budget.py --freezing    # + inductor freezing, ~4 min
    TORCHINDUCTOR_CACHE_DIR=$(mktemp -d) python experiments/bench/compile_budget.py  # cold
    python experiments/bench/compile_budget.py --threads 1   # steadier on a loaded machine
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field

import torch
from torch._dynamo.utils import counters

from neuroflow import make_arch
from neuroflow.bench.registry import build_tower
from neuroflow.models.compiled import CompiledEncoder, compile_encoder

SIZE = 224


@dataclass
class Variant:
    """One way of running the encoder, with its stream state and measurements."""

    name: str
    kernels: bool
    handle: CompiledEncoder | None = None
    state: object = None
    times: list[float] = field(default_factory=list)
    outputs: list[torch.Tensor] = field(default_factory=list)

    def select(self, tower) -> None:
        for block in tower.blocks:
            block.cpu_kernels = self.kernels
        if self.handle is not None:
            self.handle.attach()

    def deselect(self) -> None:
        if self.handle is not None:
            self.handle.restore()


def moving_squares(ticks: int, streams: int, seed: int = 0) -> torch.Tensor:
    """``[T, B, 3, 224, 224]`` normalised frames: random backgrounds, one moving square each."""
    gen = torch.Generator().manual_seed(seed)
    clip = (torch.rand(streams, 3, SIZE, SIZE, generator=gen) * 2 - 1).expand(ticks, -1, -1, -1, -1)
    clip = clip.clone()
    for t in range(ticks):
        for b in range(streams):
            top, left = (32 * b) % (SIZE - 48), (16 * t) % (SIZE - 48)
            clip[t, b, :, top : top + 48, left : left + 48] = 1.0
    return clip


def make_variants(tower, freezing: bool) -> list[Variant]:
    variants = [Variant("eager-packed", True), Variant("eager-plain", False)]
    compiled = {"inductor": None, **({"inductor-frz": {"freezing": True}} if freezing else {})}
    for name, options in compiled.items():
        handle = compile_encoder(tower, options=options)
        handle.restore()  # attached only for its own runs (Variant.select)
        variants.append(Variant(name, True, handle))
    return variants


def run_config(tower, arch_name: str, k: float, streams: int, args) -> list[dict]:
    dense_first = arch_name != "B"  # C and D need it to fill their cache
    gate = {"mode": "budget", "keep_fraction": k, "dense_first_frame": dense_first}
    arch = make_arch(arch_name, tower, **gate)
    warmup = 2 if dense_first else 1
    clip = moving_squares(warmup + args.ticks, streams)
    variants = make_variants(tower, args.freezing)
    for v in variants:
        v.state = arch.new_state(streams)
    kept = None
    with torch.inference_mode():
        for t, frames in enumerate(clip):
            shift = t % len(variants)
            for v in variants[shift:] + variants[:shift]:
                v.select(tower)
                began = time.perf_counter()
                out = arch(frames, v.state)
                v.times.append(time.perf_counter() - began)
                v.deselect()
                v.outputs.append(out.embedding)
                kept = int(out.keep_mask[0].sum())
    for block in tower.blocks:
        block.cpu_kernels = True
    return [summary(v, variants[0], warmup, k, streams, kept) for v in variants]


def summary(v: Variant, ref: Variant, warmup: int, k: float, streams: int, kept: int) -> dict:
    diff = max((a - b).abs().max().item() for a, b in zip(v.outputs, ref.outputs, strict=True))
    return {
        "k": k,
        "streams": streams,
        "n": kept,
        "variant": v.name,
        "compile_s": v.handle.total_compile_seconds if v.handle else float("nan"),
        "shapes": v.handle.num_shapes if v.handle else 0,
        "first_ms": 1e3 * v.times[0],
        "median_ms": 1e3 * statistics.median(v.times[warmup:]),
        "best_ms": 1e3 * min(v.times[warmup:]),
        "max_diff": diff,
    }


def print_table(rows: list[dict]) -> None:
    print(
        f"\n{'k':>5} {'B':>2} {'n':>4}  {'variant':<13} {'compile s':>9} {'shapes':>6} "
        f"{'median ms':>9} {'/packed':>7} {'/plain':>6} {'best ms':>8}  max|d|"
    )
    base = {(r["k"], r["streams"], r["variant"]): r["median_ms"] for r in rows}
    for r in rows:
        packed = base[(r["k"], r["streams"], "eager-packed")]
        plain = base[(r["k"], r["streams"], "eager-plain")]
        compile_s = "-" if r["shapes"] == 0 else f"{r['compile_s']:.1f}"
        print(
            f"{r['k']:>5} {r['streams']:>2} {r['n']:>4}  {r['variant']:<13} {compile_s:>9} "
            f"{r['shapes']:>6} {r['median_ms']:>9.1f} {r['median_ms'] / packed:>7.2f} "
            f"{r['median_ms'] / plain:>6.2f} {r['best_ms']:>8.1f}  {r['max_diff']:.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="B", choices=["B", "C", "D"])
    parser.add_argument("--ticks", type=int, default=8, help="steady-state ticks per config")
    parser.add_argument("--keep", type=float, nargs="+", default=[0.17, 0.5])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--freezing", action="store_true", help="add inductor with freezing")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    began = time.perf_counter()
    tower = build_tower("random:siglip-b16", torch.float32, "cpu", 0).tower
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, Arch {args.arch}")
    rows = []
    for k in args.keep:
        for streams in args.streams:
            rows += run_config(tower, args.arch, k, streams, args)
            print(f"done k={k} streams={streams} ({time.perf_counter() - began:.0f} s)", flush=True)
    print_table(rows)
    breaks = sum(counters["graph_break"].values())
    cache = {key: n for key, n in counters["inductor"].items() if key.startswith("fxgraph_cache")}
    print(f"\ndynamo graph breaks: {breaks}; inductor FX graph cache: {cache}")
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
