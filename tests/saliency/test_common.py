"""Guarantees every saliency method shares: shapes, dtype, state, targets, errors."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from shapebias.models import TrainModeWarning
from shapebias.saliency import (
    grad_cam,
    gradient,
    guided_backprop,
    input_x_gradient,
    integrated_gradients,
    smoothgrad,
)
from tests._models import seeded_images, seeded_labels, tiny_cnn


def seeded_smoothgrad(*args, **kwargs) -> torch.Tensor:
    """SmoothGrad with a fresh seeded generator, so every call draws the same noise."""
    generator = torch.Generator().manual_seed(0)
    return smoothgrad(*args, n_samples=3, batch_size=5, generator=generator, **kwargs)


METHODS = {
    "gradient": gradient,
    "input_x_gradient": input_x_gradient,
    "smoothgrad": seeded_smoothgrad,
    "integrated_gradients": functools.partial(integrated_gradients, steps=3, batch_size=5),
    "grad_cam": functools.partial(grad_cam, layer="0"),
    "guided_backprop": guided_backprop,
}


def expected_shape(name: str, images: torch.Tensor) -> tuple[int, ...]:
    n, _, h, w = images.shape
    return (n, 1, h, w) if name == "grad_cam" else tuple(images.shape)


@pytest.fixture(params=sorted(METHODS))
def method(request: pytest.FixtureRequest):
    return request.param, METHODS[request.param]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_kept(method, dtype: torch.dtype) -> None:
    name, fn = method
    model = tiny_cnn().to(dtype)
    images = seeded_images().to(dtype)
    result = fn(model, images, seeded_labels())
    assert result.shape == expected_shape(name, images)
    assert result.dtype == dtype
    assert result.device == images.device
    assert not result.requires_grad
    assert torch.isfinite(result).all()


def test_state_and_inputs_untouched(method) -> None:
    _, fn = method
    model = tiny_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = seeded_images(), seeded_labels()
    images_copy, labels_copy = images.clone(), labels.clone()
    flags = [m.training for m in model.modules()]
    fn(model, images, labels)
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert [m.training for m in model.modules()] == flags
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(images, images_copy) and torch.equal(labels, labels_copy)
    assert not images.requires_grad


def test_works_under_no_grad(method) -> None:
    _, fn = method
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    expected = fn(model, images, labels)
    with torch.no_grad():
        inside = fn(model, images, labels)
    torch.testing.assert_close(inside, expected)


def test_target_forms_agree(method) -> None:
    _, fn = method
    model, images = tiny_cnn(), seeded_images()
    predicted = model(images).argmax(1)
    by_tensor = fn(model, images, predicted)
    torch.testing.assert_close(fn(model, images, None), by_tensor)
    first = torch.full_like(predicted, 2)
    torch.testing.assert_close(fn(model, images, 2), fn(model, images, first))


def test_train_mode_warns(method) -> None:
    _, fn = method
    model = tiny_cnn().train()
    with pytest.warns(TrainModeWarning, match="training mode"):
        fn(model, seeded_images(), seeded_labels())
    assert model.training


def test_loss_output_differs_from_logit(method) -> None:
    _, fn = method
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    assert not torch.allclose(fn(model, images, labels, output="loss"), fn(model, images, labels))


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        (torch.tensor([0, 1]), ValueError, r"target must have shape \(4,\)"),
        (torch.tensor([0, 1, 2, 3]), ValueError, "target must be class indices below"),
        (7, ValueError, "target must be class indices below"),
        (-1, ValueError, "target must be >= 0"),
        (torch.tensor([0.0, 1.0, 2.0, 0.0]), TypeError, "target must have dtype torch.int64"),
        ("cat", TypeError, "target must be an int"),
    ],
)
def test_bad_target(method, target, error: type[Exception], match: str) -> None:
    _, fn = method
    with pytest.raises(error, match=match):
        fn(tiny_cnn(), seeded_images(), target)


def test_bad_output_and_images(method) -> None:
    _, fn = method
    model = tiny_cnn()
    with pytest.raises(ValueError, match="output must be one of 'logit', 'loss'"):
        fn(model, seeded_images(), 0, output="probability")
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        fn(model, seeded_images() * 3, 0)
    with pytest.raises(TypeError, match="floating-point"):
        fn(model, (seeded_images() * 255).to(torch.uint8), 0)


def test_probability_model_rejected(method) -> None:
    _, fn = method
    model = tiny_cnn().append(nn.Softmax(dim=1))
    with pytest.raises(ValueError, match="look like probabilities"):
        fn(model, seeded_images(), 0)
