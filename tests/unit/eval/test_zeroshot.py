"""Zero-shot classifier: prompt ensembling, projections, logits and clip aggregation."""

import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig

from neuroflow.eval.zeroshot import (
    ZeroShotClassifier,
    build_classifier,
    clip_logits,
    encode_images,
    encode_text,
    model_family,
    project_image,
)
from neuroflow.glyphs.model import ModelSize, build_model
from neuroflow.glyphs.text import build_tokenizer

NAMES = ("zero", "one", "two")
TEMPLATES = ("a photo of the digit {}.", "the number {}.")


@pytest.fixture(scope="module")
def siglip():
    tok = build_tokenizer(16)
    size = ModelSize(hidden=32, mlp=64, layers=1, heads=2, text_layers=1)
    return build_model(size, len(tok), tok.pad_token_id, seed=0).eval(), tok


@pytest.fixture(scope="module")
def clip():
    tok = build_tokenizer(16)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    # eos_token_id=2 selects CLIP's legacy end-of-text pooling (argmax of the ids).
    text = CLIPTextConfig(vocab_size=len(tok), max_position_embeddings=16, eos_token_id=2, **small)
    vision = CLIPVisionConfig(image_size=32, patch_size=4, **small)
    config = CLIPConfig(
        text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=24
    )
    torch.manual_seed(0)
    return CLIPModel(config).eval(), tok


def test_ensemble_is_renormalised_mean_of_normalised_prompts(siglip):
    model, tok = siglip
    clf = build_classifier(model, tok, NAMES, TEMPLATES)
    assert clf.weights.shape == (3, 32)
    torch.testing.assert_close(clf.weights.norm(dim=-1), torch.ones(3))
    per_prompt = encode_text(model, tok, [t.format(n) for n in NAMES for t in TEMPLATES])
    expected = F.normalize(per_prompt.view(3, 2, -1).mean(1), dim=-1)
    torch.testing.assert_close(clf.weights, expected)
    assert clf.scale == pytest.approx(10.0, rel=1e-5) and clf.bias == pytest.approx(-10.0)


def test_siglip_text_pads_to_max_length(siglip):
    model, tok = siglip
    # Padding to max_length puts a pad slot last; the same prompt alone or next to a longer
    # one must embed identically (it would not with padding to the longest prompt).
    alone = encode_text(model, tok, ["the number one."])
    mixed = encode_text(model, tok, ["the number one.", "a picture of the number seven."])
    torch.testing.assert_close(alone[0], mixed[0])


def test_processor_is_accepted_in_place_of_tokenizer(siglip):
    from neuroflow.glyphs.model import build_processor

    model, tok = siglip
    a = build_classifier(model, tok, NAMES, TEMPLATES)
    b = build_classifier(model, build_processor(tok, 32), NAMES, TEMPLATES)
    torch.testing.assert_close(a.weights, b.weights)


def test_siglip_images_use_pooled_output_directly(siglip):
    model, _ = siglip
    pixels = torch.randn(4, 3, 32, 32)
    pooled = model.vision_model(pixel_values=pixels).pooler_output
    torch.testing.assert_close(project_image(model, pooled), pooled)
    torch.testing.assert_close(encode_images(model, pixels), F.normalize(pooled, dim=-1))


def test_clip_applies_visual_projection(clip):
    model, tok = clip
    assert model_family(model) == "clip"
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        pooled = model.vision_model(pixel_values=pixels).pooler_output
        expected = F.normalize(model.visual_projection(pooled), dim=-1)
    got = encode_images(model, pixels)
    assert got.shape == (2, 24)
    torch.testing.assert_close(got, expected)
    clf = build_classifier(model, tok, NAMES, TEMPLATES)
    assert clf.weights.shape == (3, 24) and clf.bias == 0.0


def test_logits_are_scaled_cosines_plus_bias():
    weights = F.normalize(torch.randn(4, 8), dim=-1)
    clf = ZeroShotClassifier(weights, tuple("abcd"), scale=5.0, bias=-1.0)
    emb = torch.randn(3, 8) * 7
    expected = F.normalize(emb, dim=-1) @ weights.T * 5.0 - 1.0
    torch.testing.assert_close(clf.logits(emb), expected)
    assert clf.predict(emb).tolist() == expected.argmax(-1).tolist()
    with pytest.raises(ValueError, match="project tower outputs"):
        clf.logits(torch.randn(3, 5))


def test_clip_aggregations():
    weights = torch.eye(3)
    clf = ZeroShotClassifier(weights, ("a", "b", "c"))
    # Clip 0: two frames of class 0 (one long vector), one of class 1: mean -> class 0.
    frames = torch.tensor([[[10.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
    assert clip_logits(clf, frames, "mean").argmax().item() == 0
    assert clip_logits(clf, frames, "last").argmax().item() == 1
    torch.testing.assert_close(
        clip_logits(clf, frames, "logit_mean"), torch.tensor([[2 / 3, 1 / 3, 0.0]])
    )
    # Normalising before the mean: the long vector counts once, like the others.
    torch.testing.assert_close(
        clip_logits(clf, frames, "mean"), F.normalize(torch.tensor([[2.0, 1.0, 0.0]]), dim=-1)
    )


def test_clip_aggregation_respects_valid_frames():
    clf = ZeroShotClassifier(torch.eye(2), ("a", "b"))
    frames = torch.tensor([[[1.0, 0], [0, 1], [0, 1]]])
    valid = torch.tensor([[True, False, False]])
    assert clip_logits(clf, frames, "mean", valid).argmax().item() == 0
    assert clip_logits(clf, frames, "last", valid).argmax().item() == 0
    with pytest.raises(ValueError, match="at least one valid frame"):
        clip_logits(clf, frames, "mean", torch.zeros(1, 3, dtype=torch.bool))


def test_bad_inputs_are_named(siglip):
    model, tok = siglip
    clf = ZeroShotClassifier(torch.eye(2), ("a", "b"))
    with pytest.raises(ValueError, match="unknown clip aggregation"):
        clip_logits(clf, torch.randn(1, 2, 2), "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        clip_logits(clf, torch.randn(2, 2), "mean")
    with pytest.raises(ValueError, match="template"):
        build_classifier(model, tok, NAMES, ("no placeholder",))
    with pytest.raises(ValueError, match="no class names"):
        build_classifier(model, tok, (), TEMPLATES)
    with pytest.raises(TypeError, match="SigLIP or CLIP"):
        model_family(torch.nn.Linear(2, 2))
