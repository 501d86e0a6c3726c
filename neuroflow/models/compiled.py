"""The static-shape path: a tower's encoder under ``torch.compile`` for plain batches.

In budget mode every stream keeps the same number of patches, so the packed encoder input
is a plain ``[B, n, D]`` batch whose shape stays fixed frame after frame: the case where a
graph compiled for static shapes can be reused. :func:`compile_encoder` makes
``tower.encode`` run such batches (``packing`` None or uniform) through
``torch.compile(..., dynamic=False)``; ragged packs keep the eager path, whose attention
is split per stream. It wraps the one tower instance (``tower.encode`` is shadowed by an
instance attribute) and :meth:`CompiledEncoder.restore` undoes it, so the architectures
need no change.

Every distinct input (block range, shape, strides, dtype, device, grad mode) compiles once;
:attr:`CompiledEncoder.compile_seconds` records the first call of each, so a benchmark can
report compile time apart from the steady state. Past ``max_shapes`` inputs, new ones run
eager (a threshold-mode gate with one stream, for instance, sends a new ``n`` every frame).

By default the compiled blocks use their plain modules: the packed oneDNN kernels of
:mod:`neuroflow.models.cpu_kernels` break dynamo's graph at every hook, and inductor cannot
lower their packed weights. Inductor's own answer is ``options={"freezing": True}``, which
packs the weights itself; it treats them as constants, so later weight updates are not seen.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from neuroflow.core.packing import Packing
from neuroflow.models.blocks import Block
from neuroflow.models.tower import VisionTower

ShapeKey = tuple[Any, ...]


def _segment_runner(blocks: Sequence[Block], name: str) -> Callable[[Tensor], Tensor]:
    """A function running ``blocks`` in order on a plain batch, with its own code object."""

    def run(tokens: Tensor) -> Tensor:
        for block in blocks:
            tokens = block(tokens)
        return tokens

    # Dynamo keeps its compiled graphs, and its recompile limit, per code object: a fresh
    # one per segment keeps the shapes of one tower or block range from counting against
    # another's (they would otherwise all share ``run``'s).
    code = run.__code__.replace(co_name=name, co_qualname=name)
    return types.FunctionType(code, run.__globals__, name, None, run.__closure__)


class CompiledEncoder:
    """Handle of a tower whose ``encode`` runs compiled on plain batches (module doc).

    Made by :func:`compile_encoder` (attached); also a context manager that restores on exit.

    Args:
        tower: The tower to wrap (this instance only).
        backend: ``torch.compile`` backend (``"inductor"``; ``"aot_eager"`` compiles fast
            and is what the tests use).
        mode: ``torch.compile`` mode (e.g. ``"max-autotune-no-cudagraphs"``).
        options: Inductor options (e.g. ``{"freezing": True}``: weights become constants,
            see module doc); not together with ``mode``.
        use_cpu_kernels: Keep the packed oneDNN kernels inside the compiled region (graph
            breaks; inductor cannot lower them, so only for non-inductor backends).
        max_shapes: Distinct inputs compiled at most; later new ones run eager. Keep it
            at or below ``torch._dynamo.config.recompile_limit`` (8), past which dynamo
            itself would fall back to eager.

    Raises:
        ValueError: The tower is already wrapped, or ``use_cpu_kernels`` with inductor.

    Attributes:
        tower: The wrapped tower.
        compile_seconds: Seconds of the first call of every compiled input (compilation
            plus one run), keyed by block range, shape, strides, dtype, device, grad and
            inference mode, training flag.
        compiled_calls: Calls that ran compiled.
        eager_calls: Calls that ran eager (ragged packs, inputs past ``max_shapes``).
    """

    def __init__(
        self,
        tower: VisionTower,
        *,
        backend: str | Callable = "inductor",
        mode: str | None = None,
        options: dict[str, Any] | None = None,
        use_cpu_kernels: bool = False,
        max_shapes: int = 8,
    ) -> None:
        if use_cpu_kernels and backend == "inductor":
            raise ValueError(
                "inductor cannot lower the packed oneDNN kernels; use use_cpu_kernels=False "
                '(optionally options={"freezing": True}) or another backend'
            )
        if max_shapes < 0:
            raise ValueError(f"max_shapes must be >= 0, got {max_shapes}")
        self.tower = tower
        self.compile_seconds: dict[ShapeKey, float] = {}
        self.compiled_calls = 0
        self.eager_calls = 0
        self._settings = {"backend": backend, "mode": mode, "options": options}
        self._use_cpu_kernels = use_cpu_kernels
        self._max_shapes = int(max_shapes)
        self._eager = types.MethodType(type(tower).encode, tower)  # never another wrapper
        self._runners: dict[tuple[int, int], Callable[[Tensor], Tensor]] = {}
        self.attach()

    @property
    def num_shapes(self) -> int:
        """Distinct inputs compiled so far (each compiled once)."""
        return len(self.compile_seconds)

    @property
    def total_compile_seconds(self) -> float:
        """Sum of :attr:`compile_seconds`."""
        return sum(self.compile_seconds.values())

    @property
    def active(self) -> bool:
        """True while the tower's ``encode`` is this handle's."""
        return vars(self.tower).get("encode") == self.encode

    def encode(
        self,
        tokens: Tensor,
        start: int = 0,
        stop: int | None = None,
        packing: Packing | None = None,
    ) -> Tensor:
        """:meth:`VisionTower.encode`, compiled for plain batches, eager for ragged packs."""
        if packing is not None and not packing.uniform:
            return self._run_eager(tokens, start, stop, packing)
        first, last, _ = slice(start, stop).indices(len(self.tower.blocks))
        key = self._key(tokens, first, last)
        if first >= last:  # no block to run (Arch D with every block dense): nothing to compile
            return self._run_eager(tokens, start, stop, packing)
        if key not in self.compile_seconds and self.num_shapes >= self._max_shapes:
            return self._run_eager(tokens, start, stop, packing)
        began = time.perf_counter()
        out = self._run_compiled(tokens, first, last)
        if key not in self.compile_seconds:
            self.compile_seconds[key] = time.perf_counter() - began
        self.compiled_calls += 1
        return out

    def attach(self) -> None:
        """Route ``tower.encode`` through this handle again (after :meth:`restore`).

        Compiled graphs are kept while detached, so a benchmark can alternate the two paths.

        Raises:
            ValueError: Another wrapper holds the tower's ``encode``.
        """
        if self.active:
            return
        if "encode" in vars(self.tower):
            raise ValueError("this tower's encode is already wrapped; restore it first")
        self.tower.encode = self.encode  # instance attribute: shadows VisionTower.encode

    def restore(self) -> None:
        """Give the tower back its eager ``encode`` (idempotent)."""
        if self.active:
            del self.tower.encode

    def __enter__(self) -> CompiledEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def _key(self, tokens: Tensor, first: int, last: int) -> ShapeKey:
        # What dynamo guards on (besides the weights): a change of any recompiles.
        return (
            first,
            last,
            tuple(tokens.shape),
            tokens.stride(),
            tokens.dtype,
            tokens.device,
            torch.is_grad_enabled(),
            torch.is_inference_mode_enabled(),
            self.tower.training,
        )

    def _run_eager(
        self, tokens: Tensor, start: int, stop: int | None, packing: Packing | None
    ) -> Tensor:
        self.eager_calls += 1
        return self._eager(tokens, start=start, stop=stop, packing=packing)

    def _run_compiled(self, tokens: Tensor, first: int, last: int) -> Tensor:
        runner = self._runners.get((first, last))
        if runner is None:
            plain = _segment_runner(self.tower.blocks[first:last], f"encode_{first}_{last}")
            runner = torch.compile(plain, dynamic=False, **self._settings)
            self._runners[(first, last)] = runner
        blocks = self.tower.blocks[first:last]
        saved = [block.cpu_kernels for block in blocks]
        # Switched only around the compiled call: the eager path, and the pooling head
        # (which follows blocks[0]'s switch), keep the kernels the user chose.
        for block, flag in zip(blocks, saved, strict=True):
            block.cpu_kernels = flag and self._use_cpu_kernels
        try:
            return runner(tokens)
        finally:
            for block, flag in zip(blocks, saved, strict=True):
                block.cpu_kernels = flag


def compile_encoder(tower: VisionTower, **settings: Any) -> CompiledEncoder:
    """Make ``tower.encode`` run plain batches through ``torch.compile(dynamic=False)``.

    Ragged packs (a non-uniform ``packing``) stay eager. Results equal the eager encoder up
    to float rounding. Undo with ``handle.restore()`` or use the handle in a ``with``.

    Args:
        tower: The tower to wrap (this instance only).
        **settings: :class:`CompiledEncoder` settings (``backend``, ``mode``, ``options``,
            ``use_cpu_kernels``, ``max_shapes``).

    Returns:
        The attached handle.
    """
    return CompiledEncoder(tower, **settings)
