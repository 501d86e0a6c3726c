import pytest
import torch
import torch.nn.functional as F

from neuroflow.distill.losses import DistillLoss


def test_identical_embeddings_give_zero_loss():
    x = torch.randn(3, 5, 16)
    terms = DistillLoss(cosine=1, mse=1, raw_mse=1)(x.clone().requires_grad_(), x)
    assert float(terms["loss"].detach()) == pytest.approx(0.0, abs=1e-6)


def test_each_term_matches_its_definition():
    s, t = torch.randn(4, 8), torch.randn(4, 8)
    terms = DistillLoss(cosine=1.0, mse=2.0, raw_mse=3.0)(s, t)
    cos = 1 - F.cosine_similarity(s, t, dim=-1).mean()
    mse = ((F.normalize(s, dim=-1) - F.normalize(t, dim=-1)) ** 2).mean()
    raw = ((s - t) ** 2).mean()
    assert float(terms["cosine"]) == pytest.approx(float(cos), rel=1e-5)
    assert float(terms["mse"]) == pytest.approx(float(mse), rel=1e-5)
    assert float(terms["raw_mse"]) == pytest.approx(float(raw), rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(float(cos + 2 * mse + 3 * raw), rel=1e-5)


def test_cosine_ignores_scale_but_raw_mse_does_not():
    t = torch.randn(4, 8)
    terms = DistillLoss(cosine=1.0, raw_mse=1.0)(3 * t, t)
    assert float(terms["cosine"]) == pytest.approx(0.0, abs=1e-6)
    assert float(terms["raw_mse"]) > 0.1


def test_gradient_reaches_the_student_only():
    s = torch.randn(2, 8, requires_grad=True)
    t = torch.randn(2, 8, requires_grad=True)
    DistillLoss(cosine=1.0, mse=1.0)(s, t)["loss"].backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_logit_kd_is_zero_for_equal_logits_and_positive_otherwise():
    weights = F.normalize(torch.randn(5, 8), dim=-1)

    def logits(e):
        return F.normalize(e, dim=-1) @ weights.T * 10

    t = torch.randn(3, 8)
    loss = DistillLoss(cosine=0.0, logit_kd=1.0)
    assert float(loss(t.clone(), t, logits)["logit_kd"]) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(torch.randn(3, 8), t, logits)["logit_kd"]) > 0


def test_kd_without_logits_and_bad_weights_are_errors():
    with pytest.raises(ValueError, match="logit_kd needs"):
        DistillLoss(logit_kd=1.0)(torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="every loss weight is 0"):
        DistillLoss(cosine=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        DistillLoss(mse=-1.0)


def test_clip_terms_read_the_clip_embedding_not_each_frame():
    from neuroflow.distill.losses import clip_embedding

    t = torch.randn(2, 4, 8)
    # Frames permuted in time: every frame differs from the teacher's, the clip does not.
    s = t[:, [1, 0, 3, 2]]
    clip_only = DistillLoss(cosine=1.0, frame=0.0, clip=1.0)(s, t)
    assert float(clip_only["loss"]) == pytest.approx(0.0, abs=1e-6)
    both = DistillLoss(cosine=1.0, frame=1.0, clip=1.0)(s, t)
    assert float(both["loss"]) > 0.1 and float(both["clip_cosine"]) == pytest.approx(0.0, abs=1e-6)
    expected = F.normalize(F.normalize(t, dim=-1).mean(dim=1), dim=-1)
    assert torch.allclose(clip_embedding(t), expected)


def test_clip_terms_need_frames_and_some_level_must_weigh():
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        DistillLoss(clip=1.0)(torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="frame, clip"):
        DistillLoss(frame=0.0, clip=0.0)
