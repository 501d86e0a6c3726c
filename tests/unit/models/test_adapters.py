"""Adapter files: save -> merge onto a fresh base reproduces the student on every path."""

import ast
import copy
from pathlib import Path

import pytest
import torch

import neuroflow.models.adapters as adapters_module
import neuroflow.models.loading as loading_module
from neuroflow.archs import make_arch
from neuroflow.distill.trainable import TrainableSpec, apply_trainable, export_adapter
from neuroflow.models import ModelNotAvailableError, load_vision_language_model, load_vision_model
from neuroflow.models.adapters import (
    FORMAT,
    adapter_bytes,
    load_adapter,
    model_fingerprint,
    parameter_bytes,
    read_adapter,
    save_adapter,
)
from neuroflow.models.loading import wrap_tower
from neuroflow.models.mini_siglip import SHIPPED_DIR
from tests.helpers import moving_square_clip

PIXELS = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


pytestmark = pytest.mark.usefixtures("one_thread")


def train(tower, spec, steps=3):
    """A few optimiser steps pulling ``tower``'s embedding toward a random target."""
    trainable = apply_trainable(tower, spec)
    params = dict(tower.hf.named_parameters())
    optimiser = torch.optim.Adam([params[n] for n in trainable], lr=1e-2)
    target = torch.randn(PIXELS.shape[0], tower.hidden_size)
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(tower(PIXELS), target).backward()
        optimiser.step()
    return tower.eval()


def arch_b(tower, clip):
    arch = make_arch("B", tower, threshold=0.0, floor_tokens=4)
    state = arch.new_state(clip.shape[1])
    return torch.stack([arch(frame, state).embedding for frame in clip])


@pytest.fixture(scope="module")
def base():
    return load_vision_model("mini_siglip")


@pytest.fixture(scope="module")
def fingerprint(base):
    return model_fingerprint(base)


@pytest.fixture(scope="module")
def trained(base, tmp_path_factory):
    """``(student, adapter path)``: LoRA rank 2 plus the head's probe and layernorm."""
    student = copy.deepcopy(base)
    spec = TrainableSpec(lora_rank=2, extra=("head.probe", "head.layernorm.*"))
    train(student, spec)
    path = tmp_path_factory.mktemp("adapter") / "student.safetensors"
    export_adapter(student, path, base=model_fingerprint(base), meta={"spec": spec, "step": 3})
    return student, path


def test_file_holds_factors_full_tensors_and_metadata(trained):
    _, path = trained
    adapter = read_adapter(path)
    assert len(adapter.lora) == 4 * 6 + 2  # q k v out fc1 fc2 per block, head.mlp.fc1/fc2
    assert set(adapter.full) == {"head.probe", "head.layernorm.weight", "head.layernorm.bias"}
    a, b, scaling = adapter.lora["encoder.layers.0.self_attn.q_proj"]
    assert a.shape == (2, 128) and b.shape == (128, 2) and scaling == 4.0
    assert adapter.meta["step"] == 3 and adapter.meta["spec"]["lora_rank"] == 2
    assert adapter.base["family"] == "siglip" and adapter.base["layers"] == 4


def test_merged_base_reproduces_the_student_on_every_path(base, trained):
    student, path = trained
    fresh = copy.deepcopy(base)
    clip = moving_square_clip(frames=3, batch=2)
    with torch.inference_mode():  # builds packed kernels of the base weights ...
        before = fresh(PIXELS)
        arch_b(fresh, clip)
    assert fresh.blocks[0]._kernels is not None
    meta = load_adapter(fresh, path)
    assert meta["step"] == 3
    with torch.no_grad():
        dense, sparse = student(PIXELS), arch_b(student, clip)  # LoRA layers, plain path
    with torch.inference_mode():  # ... which must not survive the merge
        assert (fresh(PIXELS) - dense).abs().max() <= 1e-5
        assert (arch_b(fresh, clip) - sparse).abs().max() <= 1e-5
    assert type(fresh.blocks[0]._kernels).__name__ == "BlockKernels"  # merged: kernels again
    assert (fresh(PIXELS) - dense).abs().max() <= 1e-5  # autograd path too
    assert (dense - before).abs().max() > 1e-3  # the adapter changed something


def test_loading_by_name(trained):
    student, path = trained
    tower = load_vision_model("mini_siglip", adapter=path)
    half = load_vision_model("mini_siglip", adapter=str(path), dtype=torch.bfloat16)
    with torch.no_grad():
        expected = student(PIXELS)
        assert (tower(PIXELS) - expected).abs().max() <= 1e-5
        assert (half(PIXELS.bfloat16()).float() - expected).abs().max() < 0.1 * expected.abs().max()


def test_vision_language_model_gets_the_adapter_on_its_image_side(trained):
    student, path = trained
    model, _ = load_vision_language_model("mini_siglip", adapter=path)
    plain, _ = load_vision_language_model("mini_siglip")
    with torch.no_grad():
        merged = model.get_image_features(pixel_values=PIXELS).pooler_output
        original = plain.get_image_features(pixel_values=PIXELS).pooler_output
        assert (merged - student(PIXELS)).abs().max() <= 1e-5
    assert (merged - original).abs().max() > 1e-3
    text = dict(plain.text_model.named_parameters())
    assert all(torch.equal(p, text[n]) for n, p in model.text_model.named_parameters())


@pytest.mark.parametrize("name", ["tiny-clip", "tiny-vit"])
def test_class_token_towers_round_trip_full_tensors(name, tmp_path):
    base = load_vision_model(name)
    student = train(copy.deepcopy(base), TrainableSpec(what="head_blocks", last_blocks=1))
    path = export_adapter(student, tmp_path / "a.safetensors", base=model_fingerprint(base))
    assert not read_adapter(path).lora and read_adapter(path).full
    load_adapter(base, path)
    with torch.inference_mode():
        assert (base(PIXELS) - student(PIXELS)).abs().max() <= 1e-5


def test_rank_2_adapter_is_small(base, fingerprint, tmp_path):
    ratios = {}
    for rank in (2, 4):
        student = copy.deepcopy(base)
        apply_trainable(student, TrainableSpec(lora_rank=rank))
        path = export_adapter(student, tmp_path / f"r{rank}.safetensors", base=fingerprint)
        ratios[rank] = adapter_bytes(path) / parameter_bytes(base)
    print(f"adapter / vision tower bytes: {ratios}")
    assert ratios[2] <= 0.05 and ratios[2] < ratios[4] < 2.2 * ratios[2]


def test_adapter_of_another_model_is_refused(tmp_path, base):
    tiny = load_vision_model("tiny-siglip")
    tiny_student = copy.deepcopy(tiny)
    apply_trainable(tiny_student, TrainableSpec(lora_rank=1))
    path = export_adapter(tiny_student, tmp_path / "tiny.safetensors", base=model_fingerprint(tiny))
    with pytest.raises(ValueError, match=r"made for siglip with hidden size 32.*this model is"):
        load_adapter(copy.deepcopy(base), path)
    other = load_vision_model("tiny-siglip", seed=1)  # same sizes, other weights
    with pytest.raises(ValueError, match="differ in weights"):
        load_adapter(other, path)


def test_missing_and_foreign_files_are_named(tmp_path, base):
    with pytest.raises(ModelNotAvailableError, match="no adapter file at"):
        load_vision_model("mini_siglip", adapter=tmp_path / "nope.safetensors")
    with pytest.raises(ValueError, match=f"not a neuroflow adapter: its format is 'pt'.*{FORMAT}"):
        load_adapter(base, SHIPPED_DIR / "model.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        read_adapter(junk)


def test_shape_mismatch_and_unknown_names_leave_the_model_untouched(tmp_path, base, fingerprint):
    tower = copy.deepcopy(base)
    before = {n: p.clone() for n, p in tower.hf.named_parameters()}
    lora = {"encoder.layers.0.mlp.fc1": (torch.ones(2, 64), torch.ones(512, 2), 1.0)}
    path = save_adapter(tmp_path / "bad.safetensors", base=fingerprint, lora=lora, full={})
    with pytest.raises(ValueError, match=r"fc1 is 512x64, the model's weight is 512x128"):
        load_adapter(tower, path)
    full = {"head.prob": torch.zeros(1, 1, 128), "head.probe": torch.zeros(1, 128)}
    path = save_adapter(tmp_path / "bad2.safetensors", base=fingerprint, lora={}, full=full)
    with pytest.raises(
        ValueError, match=r"head.prob is not in this model.*head.probe is \[1, 128\]"
    ):
        load_adapter(tower, path)
    assert all(torch.equal(p, before[n]) for n, p in tower.hf.named_parameters())


def test_a_weight_both_adapted_and_replaced_is_refused(tmp_path, fingerprint):
    lora = {"head.mlp.fc1": (torch.ones(1, 128), torch.ones(512, 1), 1.0)}
    full = {"head.mlp.fc1.weight": torch.zeros(512, 128)}
    with pytest.raises(ValueError, match="both LoRA-adapted and replaced"):
        save_adapter(tmp_path / "x.safetensors", base=fingerprint, lora=lora, full=full)


def test_fingerprint_is_dtype_stable_and_model_specific(base, fingerprint):
    assert model_fingerprint(copy.deepcopy(base).to(torch.bfloat16)) == fingerprint
    model, _ = load_vision_language_model("mini_siglip")
    assert model_fingerprint(wrap_tower(model)) == fingerprint
    assert model_fingerprint(load_vision_model("tiny-siglip"))["weights"] != fingerprint["weights"]


def test_loading_needs_no_training_code():
    for module in (adapters_module, loading_module):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in imported if m.startswith(("peft", "neuroflow.distill"))]


def test_an_adapter_trained_on_top_of_another_needs_it(tmp_path):
    base = load_vision_model("tiny-siglip")
    first = train(copy.deepcopy(base), TrainableSpec(lora_rank=1, lora_targets=("fc1",)))
    first_path = export_adapter(first, tmp_path / "1.safetensors", base=model_fingerprint(base))
    stacked = copy.deepcopy(base)
    load_adapter(stacked, first_path)
    assert len(model_fingerprint(stacked)["adapters"]) == 1
    second = train(copy.deepcopy(stacked), TrainableSpec(what="head"))
    path = export_adapter(second, tmp_path / "2.safetensors", base=model_fingerprint(stacked))
    with pytest.raises(ValueError, match=r"\+ adapter .*differ in merged adapters"):
        load_adapter(copy.deepcopy(base), path)
    load_adapter(stacked, path)
    with torch.no_grad():
        assert (stacked(PIXELS) - second(PIXELS)).abs().max() <= 1e-5
