"""The compiled static-shape encoder equals eager, falls back on ragged packs, restores.

The tests compile with dynamo's ``eager`` backend (graph capture, no code generation; one
test with ``aot_eager``, which also traces AOT autograd's decomposed graph): inductor takes
10-30 s per shape on two cores. experiments/bench/compile_budget.py checks inductor.
"""

import pytest
import torch

from neuroflow import make_arch
from neuroflow.core.packing import make_packing, pack, to_layout
from neuroflow.models.compiled import compile_encoder
from tests.helpers import moving_square_clip

BACKEND = "eager"
ATOL = 1e-4


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def run_clip(arch, clip):
    state = arch.new_state(clip.shape[1])
    with torch.inference_mode():
        return [arch(frame, state) for frame in clip]


def assert_same(compiled, eager):
    for t, (got, want) in enumerate(zip(compiled, eager, strict=True)):
        assert torch.equal(got.keep_mask, want.keep_mask), f"frame {t}: gate decided otherwise"
        diff = (got.embedding - want.embedding).abs().max().item()
        assert diff <= ATOL, f"frame {t} differs by {diff}"


@pytest.mark.parametrize(("name", "backend"), [("B", BACKEND), ("C", "aot_eager")])
def test_budget_mode_compiled_equals_eager(tower, name, backend):
    arch = make_arch(name, tower, mode="budget", keep_fraction=0.25)
    clip = moving_square_clip(frames=4, batch=3)
    eager = run_clip(arch, clip)
    with compile_encoder(tower, backend=backend) as handle:
        compiled = run_clip(arch, clip)
    assert_same(compiled, eager)
    # Dense first frame (64 tokens) then 16 tokens per stream: two shapes, each compiled once.
    assert handle.num_shapes == 2
    assert handle.compiled_calls == 4 and handle.eager_calls == 0
    assert all(seconds > 0 for seconds in handle.compile_seconds.values())


def test_ragged_packs_fall_back_to_eager(tower):
    arch = make_arch("C", tower, threshold=0.05, floor_tokens=2)
    clip = moving_square_clip(frames=4, batch=3)
    clip[:, 1] = clip[0, 1]  # stream 1 stands still: it keeps the floor, the others more
    eager = run_clip(arch, clip)
    with compile_encoder(tower, backend=BACKEND) as handle:
        compiled = run_clip(arch, clip)
    assert_same(compiled, eager)
    lengths = [set(out.keep_mask.sum(dim=1).tolist()) for out in eager[1:]]
    assert any(len(n) > 1 for n in lengths), "the clip must give ragged frames"
    assert handle.eager_calls == sum(len(n) > 1 for n in lengths)
    assert handle.compiled_calls == 4 - handle.eager_calls


def test_uniform_packing_object_runs_compiled(tower):
    tokens = torch.randn(2, 64, 32)
    keep = torch.zeros(2, 64, dtype=torch.bool)
    keep[:, :10] = True
    packing = make_packing(keep)
    x = to_layout(pack(tokens, packing), packing)
    with torch.no_grad():
        want = tower.encode(x)
        with compile_encoder(tower, backend=BACKEND) as handle:
            got = tower.encode(x, packing=packing)
    assert handle.compiled_calls == 1
    assert (got - want).abs().max().item() <= ATOL


def test_block_ranges_compile_apart_and_shapes_past_the_limit_run_eager(tower):
    x, y = torch.randn(2, 12, 32), torch.randn(2, 7, 32)
    with torch.no_grad():
        want = [tower.encode(x, stop=1), tower.encode(x, start=1), tower.encode(y)]
        with compile_encoder(tower, backend=BACKEND, max_shapes=2) as handle:
            got = [tower.encode(x, stop=1), tower.encode(x, start=1), tower.encode(y)]
            assert torch.equal(tower.encode(x, start=2), x)  # empty range: runs eager
    assert handle.num_shapes == 2 and handle.eager_calls == 2
    assert {key[:2] for key in handle.compile_seconds} == {(0, 1), (1, 2)}
    for g, w in zip(got, want, strict=True):
        assert (g - w).abs().max().item() <= ATOL


def test_restore_and_attach_and_cpu_kernel_switches(tower):
    x = torch.randn(1, 9, 32)
    handle = compile_encoder(tower, backend=BACKEND)
    assert handle.active and tower.encode == handle.encode
    with pytest.raises(ValueError, match="already wrapped"):
        compile_encoder(tower, backend=BACKEND)
    with torch.no_grad():
        tower.encode(x)
    # The plain path was forced only during the compiled call.
    assert all(block.cpu_kernels for block in tower.blocks)
    handle.restore()
    handle.restore()  # idempotent
    assert not handle.active and "encode" not in vars(tower)
    with torch.no_grad():
        tower.encode(x)
    assert handle.compiled_calls == 1 and handle.eager_calls == 0
    handle.attach()  # the compiled graph was kept: no new shape
    with torch.no_grad():
        tower.encode(x)
    assert handle.compiled_calls == 2 and handle.num_shapes == 1
    handle.restore()


def test_cpu_kernels_inside_inductor_are_refused(tower):
    with pytest.raises(ValueError, match="cannot lower"):
        compile_encoder(tower, use_cpu_kernels=True)
    assert "encode" not in vars(tower)


def test_cpu_kernels_kept_with_a_non_inductor_backend(tower):
    x = torch.randn(2, 16, 32)
    with torch.no_grad():
        want = tower.encode(x)
        with compile_encoder(tower, backend=BACKEND, use_cpu_kernels=True) as handle:
            got = tower.encode(x)
    assert handle.compiled_calls == 1
    assert (got - want).abs().max().item() <= ATOL


def test_gradients_flow_through_the_compiled_encoder(tower):
    x = torch.randn(2, 8, 32, requires_grad=True)
    want = torch.autograd.grad(tower.encode(x).square().sum(), x)[0]
    with compile_encoder(tower, backend=BACKEND):
        got = torch.autograd.grad(tower.encode(x).square().sum(), x)[0]
    assert (got - want).abs().max().item() <= ATOL
