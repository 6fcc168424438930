"""gradient and input_x_gradient against the analytic gradients of a linear model."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shapebias.saliency import gradient, input_x_gradient
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn


def linear_parts(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    layer = model[1]
    return layer.weight.detach(), layer.bias.detach()


def test_logit_gradient_is_the_weight_row() -> None:
    model = linear_model(num_classes=3, channels=1, size=4)
    images, labels = seeded_images(5, channels=1, size=4), seeded_labels(5)
    weight, _ = linear_parts(model)
    expected = weight[labels].view(5, 1, 4, 4)
    torch.testing.assert_close(gradient(model, images, labels), expected)
    torch.testing.assert_close(input_x_gradient(model, images, labels), images * expected)


def test_loss_gradient_is_analytic() -> None:
    # d CE / dx = W^T (softmax(Wx + b) - onehot(y)).
    model = linear_model(num_classes=3, channels=1, size=4)
    images, labels = seeded_images(5, channels=1, size=4), seeded_labels(5)
    weight, bias = linear_parts(model)
    probabilities = (images.flatten(1) @ weight.T + bias).softmax(1)
    residual = probabilities - torch.nn.functional.one_hot(labels, 3).to(probabilities)
    expected = (residual @ weight).view(5, 1, 4, 4)
    torch.testing.assert_close(gradient(model, images, labels, output="loss"), expected)


@settings(max_examples=10)
@given(st.integers(0, 3), st.integers(1, 4))
def test_per_sample_gradient_independent_of_batch(index: int, n: int) -> None:
    # Sum reduction: a sample's gradient is the same alone or in a batch of any size.
    model = tiny_cnn().double()
    images, labels = seeded_images(4).double(), seeded_labels(4)
    batch = gradient(model, images[:n], labels[:n], output="loss")
    if index < n:
        alone = gradient(model, images[index : index + 1], labels[index : index + 1], output="loss")
        torch.testing.assert_close(batch[index : index + 1], alone)
    assert batch.shape[0] == n
