"""Mini-SigLIP construction: sin-cos positions, logit init, losses and schedules."""

import math

import pytest
import torch

from neuroflow import make_arch
from neuroflow.glyphs.model import ModelSize, build_model, sincos_2d
from neuroflow.glyphs.text import build_tokenizer
from neuroflow.glyphs.train import StageConfig, multi_positive_sigmoid_loss, schedule
from neuroflow.models import wrap_tower


def test_sincos_table_encodes_rows_and_columns():
    table = sincos_2d(8, 16)
    assert table.shape == (64, 16)
    # First quarter: sin(row * omega); second: cos(row * omega); then columns.
    assert torch.allclose(table[:, 0], torch.arange(8.0).repeat_interleave(8).sin())
    assert torch.allclose(table[:, 8], torch.arange(8.0).repeat(8).sin())
    assert len({tuple(r.tolist()) for r in table}) == 64  # every position distinct
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(4, 6)


def test_build_model_sets_positions_and_logit_init():
    tok = build_tokenizer(16)
    size = ModelSize(hidden=32, mlp=64, layers=1, heads=2, text_layers=1)
    model = build_model(size, len(tok), tok.pad_token_id)
    pos = model.vision_model.embeddings.position_embedding.weight
    torch.testing.assert_close(pos.detach(), sincos_2d(8, 32))
    assert model.logit_scale.item() == pytest.approx(math.log(10))
    assert model.logit_bias.item() == pytest.approx(-10.0)
    assert model.config.vision_config.vision_use_head
    assert model.config.text_config.max_position_embeddings == 16
    # The HF model plugs straight into the architectures.
    arch = make_arch("C", wrap_tower(model), threshold=0.1)
    out = arch(torch.randn(2, 3, 32, 32), arch.new_state(2))
    assert out.embedding.shape == (2, 32)


def test_multi_positive_loss_treats_same_class_as_positive():
    labels = torch.tensor([0, 0, 1])
    good = torch.tensor([[5.0, 5.0, -5.0], [5.0, 5.0, -5.0], [-5.0, -5.0, 5.0]])
    bad = torch.tensor([[5.0, -5.0, -5.0], [-5.0, 5.0, -5.0], [-5.0, -5.0, 5.0]])
    assert multi_positive_sigmoid_loss(good, labels, labels) < 0.1
    # Eye labels would favour `bad`; the multi-positive loss penalises it.
    assert multi_positive_sigmoid_loss(bad, labels, labels) > 3.0
    expected = -torch.nn.functional.logsigmoid(torch.tensor(5.0)) * 3
    torch.testing.assert_close(multi_positive_sigmoid_loss(good, labels, labels), expected)


def test_schedule_warms_up_then_decays_to_floor():
    factor = schedule(StageConfig(steps=100, lr=1.0, warmup=10, min_lr_ratio=0.05))
    assert factor(0) == pytest.approx(0.1)
    assert factor(9) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.09)))
    assert factor(10) < factor(9)
    assert factor(50) == pytest.approx(0.05 + 0.95 * 0.5)
    assert factor(100) == pytest.approx(0.05)
