"""Every bad input to an attack gets a clear error naming the parameter."""

import pytest
import torch
from torch import nn

from shapebias.attacks import PGD, pgd, robust_accuracy
from tests._models import seeded_images, seeded_labels, tiny_cnn


def _call(**overrides):
    kwargs = {
        "model": tiny_cnn(),
        "images": seeded_images(),
        "labels": seeded_labels(),
        "eps": 8 / 255,
    }
    kwargs.update(overrides)
    return pgd(kwargs.pop("model"), kwargs.pop("images"), kwargs.pop("labels"), **kwargs)


@pytest.mark.parametrize(
    "overrides,error,match",
    [
        ({"images": seeded_images()[0]}, ValueError, r"images must have shape \(N, C, H, W\)"),
        ({"images": (seeded_images() * 255).to(torch.uint8)}, TypeError, "floating-point"),
        ({"images": seeded_images() * 3 - 1}, ValueError, r"images must lie in \[0, 1\]"),
        (
            {"images": seeded_images().index_fill(0, torch.tensor([1]), float("nan"))},
            ValueError,
            "NaN",
        ),
        (
            {"images": seeded_images().index_fill(0, torch.tensor([1]), float("inf"))},
            ValueError,
            r"\[0, 1\]",
        ),
        ({"images": seeded_images()[:0], "labels": seeded_labels()[:0]}, ValueError, "empty"),
        ({"images": [[0.5]]}, TypeError, "images must be a torch.Tensor"),
        ({"labels": seeded_labels(3)}, ValueError, r"labels must have shape \(4,\)"),
        ({"labels": seeded_labels().float()}, TypeError, "int64"),
        ({"labels": torch.tensor([0, 1, 2, 7])}, ValueError, "below the model's 3 outputs"),
        ({"labels": torch.tensor([0, -1, 2, 1])}, ValueError, "non-negative"),
        ({"eps": -0.1}, ValueError, "eps must be >= 0"),
        ({"eps": 8}, ValueError, "Did you mean 8/255"),
        ({"eps": "8/255"}, TypeError, "eps must be a real number"),
        ({"eps": torch.ones(3)}, ValueError, r"eps must be a float or a floating tensor"),
        ({"steps": -1}, ValueError, "steps must be >= 0"),
        ({"steps": 2.5}, TypeError, "steps must be an int"),
        ({"restarts": 0}, ValueError, "restarts must be >= 1"),
        ({"norm": "l1"}, ValueError, "norm must be one of 'linf', 'l2'"),
        ({"loss": "hinge"}, ValueError, "loss must be one of 'ce', 'margin'"),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
        ({"model": "resnet"}, TypeError, "model must be a callable"),
        ({"step_size": -1.0}, ValueError, "step_size must be >= 0"),
    ],
)
def test_bad_input(overrides, error, match):
    with pytest.raises(error, match=match):
        _call(**overrides)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="epsilon"):
        _call(epsilon=0.1)


class _TupleModel(nn.Module):
    def forward(self, x):
        return x.mean((2, 3)), x


class _ProbabilityModel(nn.Module):
    def forward(self, x):
        return torch.softmax(x.mean((2, 3)), dim=1)


@pytest.mark.parametrize(
    "model,match",
    [
        (_TupleModel(), "wrap it"),
        (_ProbabilityModel(), "probabilities"),
        (lambda x: x.mean((2, 3))[:2], r"logits of shape \(4, K\)"),
    ],
)
def test_bad_model_output(model, match):
    with pytest.raises((TypeError, ValueError), match=match):
        _call(model=model, labels=torch.tensor([0, 1, 2, 0]))


def test_bad_model_output_with_zero_steps():
    with pytest.raises(TypeError, match="wrap it"):
        _call(model=_TupleModel(), labels=torch.tensor([0, 1, 2, 0]), steps=0)


def test_robust_accuracy_errors():
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    with pytest.raises(ValueError, match="empty"):
        robust_accuracy(model, [], PGD(eps=0.1), progress=False)
    with pytest.raises(ValueError, match="untargeted"):
        robust_accuracy(model, (images, labels), PGD(eps=0.1, targeted=True), progress=False)
    with pytest.raises(TypeError, match="attack must be callable"):
        robust_accuracy(model, (images, labels), "pgd", progress=False)
    with pytest.raises(TypeError, match=r"\(images, labels\) tuples"):
        robust_accuracy(model, [(images,)], PGD(eps=0.1), progress=False)
    with pytest.raises(ValueError, match=r"data must be \(images, labels\), got a tuple of 1"):
        robust_accuracy(model, [images], PGD(eps=0.1), progress=False)
    with pytest.raises(TypeError, match="data must be a DataLoader"):
        robust_accuracy(model, 3, PGD(eps=0.1), progress=False)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        robust_accuracy(model, (images, labels), PGD(eps=0.1), batch_size=0, progress=False)
