"""Fair timing, FLOPs, FLOP ceilings and state size of dense and sparse methods.

Measurement code only: no Hydra, Lightning or wandb imports (the ``neuroflow-bench`` CLI
wires this to configs and loggers).
"""

from neuroflow.bench.ceiling import ceiling, method_flops
from neuroflow.bench.flops import FlopBreakdown, count_flops, flop_counter, measure_breakdown
from neuroflow.bench.methods import ArchMethod, BenchMethod, Repeated
from neuroflow.bench.plain_loop import PlainLoop
from neuroflow.bench.runner import MethodRun, run_interleaved
from neuroflow.bench.suite import BenchReport, BenchSettings, run_benchmark
from neuroflow.bench.timing import Clock, LatencyStats, latency_stats

__all__ = [
    "ArchMethod",
    "BenchMethod",
    "BenchReport",
    "BenchSettings",
    "Clock",
    "FlopBreakdown",
    "LatencyStats",
    "MethodRun",
    "PlainLoop",
    "Repeated",
    "ceiling",
    "count_flops",
    "flop_counter",
    "latency_stats",
    "measure_breakdown",
    "method_flops",
    "run_benchmark",
    "run_interleaved",
]
