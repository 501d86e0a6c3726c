"""LoRA through peft: a no-op at init, trains only its factors, and reaches the Block path."""

import pytest
import torch

from neuroflow.archs import make_arch
from neuroflow.distill.lora import add_lora, lora_factors
from neuroflow.distill.trainable import TrainableSpec, apply_trainable
from neuroflow.models import load_vision_model
from tests.helpers import moving_square_clip

pytestmark = pytest.mark.usefixtures("one_thread")


def randomise_b(tower, scale=0.05):
    """Give every LoRA B a nonzero value (B starts at zero)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in tower.hf.modules():
            if hasattr(module, "lora_B"):
                b = module.lora_B["default"].weight
                b.copy_(torch.randn(b.shape, generator=gen) * scale)


def arch_b(tower, clip):
    arch = make_arch("B", tower, threshold=0.0, floor_tokens=4)
    state = arch.new_state(clip.shape[1])
    return torch.stack([arch(frame, state).embedding for frame in clip])


@pytest.fixture
def pixels():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_factors_have_peft_shapes_and_scaling(tower):
    modules = add_lora(tower, ["q_proj", "mlp.fc1"], rank=3, alpha=6.0)
    assert modules == [
        "encoder.layers.0.self_attn.q_proj",
        "encoder.layers.0.mlp.fc1",
        "encoder.layers.1.self_attn.q_proj",
        "encoder.layers.1.mlp.fc1",
        "head.mlp.fc1",
    ]
    factors = lora_factors(tower)
    assert list(factors) == modules
    a, b, scaling = factors["encoder.layers.0.mlp.fc1"]
    assert a.shape == (3, 32) and b.shape == (64, 3) and scaling == 2.0
    assert not b.any()  # B = 0 at init


def test_lora_at_init_leaves_the_output_unchanged(tower, pixels):
    base = tower(pixels)
    apply_trainable(tower, TrainableSpec(lora_rank=4))
    assert (tower(pixels) - base).abs().max() <= 1e-6


def test_training_changes_the_output_and_reaches_only_lora_and_extras(tower, pixels):
    base = tower(pixels).detach()
    trainable = apply_trainable(tower, TrainableSpec(lora_rank=2, extra=("head.probe",)))
    params = dict(tower.hf.named_parameters())
    optimiser = torch.optim.Adam([params[n] for n in trainable], lr=1e-2)
    target = torch.randn_like(base)
    tower.train()
    for _ in range(3):
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(tower(pixels), target).backward()
        optimiser.step()
    with_grad = {n for n, p in params.items() if p.grad is not None}
    assert with_grad == set(trainable)
    assert "head.probe" in with_grad and not any(".base_layer." in n for n in with_grad)
    assert (tower.eval()(pixels) - base).abs().max() > 1e-3


def test_block_path_sees_lora(tower):
    clip = moving_square_clip(frames=3, batch=2)
    with torch.no_grad():
        before = arch_b(tower, clip)
    apply_trainable(tower, TrainableSpec())
    randomise_b(tower)
    with torch.no_grad():
        after = arch_b(tower, clip)
        hf = tower.hf(pixel_values=clip[0]).pooler_output  # peft's modules, HF's forward
    assert (after - before).abs().max() > 1e-3
    # first frame keeps every patch: the Block path equals HF's forward through the LoRA layers
    assert torch.allclose(after[0], hf, atol=1e-5)


def test_packed_kernels_stay_off_while_lora_is_injected(tower):
    clip = moving_square_clip(frames=3, batch=2)
    apply_trainable(tower, TrainableSpec())
    randomise_b(tower)
    assert not any(block.cpu_kernels for block in tower.blocks)
    with torch.enable_grad():
        plain = arch_b(tower, clip).detach()
    with torch.inference_mode():
        fast = arch_b(tower, clip)
    assert all(block._kernels is None for block in tower.blocks)
    assert torch.allclose(fast, plain, atol=1e-6)


def test_rebuild_blocks_keeps_each_switch(tower):
    tower.blocks[1].cpu_kernels = False
    old = tower.blocks[0]
    tower.rebuild_blocks()
    assert tower.blocks[0] is not old and tower.blocks[0].q_proj is old.q_proj
    assert [b.cpu_kernels for b in tower.blocks] == [True, False]


def test_bare_names_skip_the_map_attention_but_reach_every_block():
    tower = load_vision_model("mini_siglip")
    modules = add_lora(tower, ["out_proj"], rank=1, alpha=1.0)
    assert modules == [f"encoder.layers.{i}.self_attn.out_proj" for i in range(4)]
    assert type(tower.hf.head.attention.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
