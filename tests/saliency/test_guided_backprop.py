"""Guided backprop: reference rule, in-place ReLUs, ReLU modules left intact, hooks removed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.models import resnet18
from shapebias.saliency import gradient, guided_backprop
from tests._models import seeded_images, seeded_labels
from tests.saliency._nets import Raises, hooks_left, relu_cnn


class GuidedReLU(torch.autograd.Function):
    """The textbook rule: grad_in = (input > 0) * max(grad_out, 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (x > 0).to(grad) * grad.clamp_min(0)


def reference_guided(model: nn.Sequential, images, target):
    """Run the Sequential layer by layer, replacing every ReLU by GuidedReLU."""
    x = images.detach().requires_grad_(True)
    h = x
    for layer in model:
        h = GuidedReLU.apply(h) if isinstance(layer, nn.ReLU) else layer(h)
    (grad,) = torch.autograd.grad(h.gather(1, target[:, None]).sum(), x)
    return grad


@pytest.mark.parametrize("inplace", [False, True])
def test_matches_literal_reference(inplace: bool) -> None:
    model = relu_cnn(inplace=inplace).double()
    images, labels = seeded_images().double(), seeded_labels()
    ours = guided_backprop(model, images, labels)
    torch.testing.assert_close(ours, reference_guided(model, images, labels))
    assert not torch.allclose(ours, gradient(model, images, labels))


def test_relu_modules_and_outputs_unchanged_afterwards() -> None:
    model = resnet18(4).eval()  # in-place ReLU modules, each called twice per block
    images = seeded_images(1, size=8)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    expected_logits = model(images)
    expected_gradient = gradient(model, images, 1)
    guided_backprop(model, images, 1)
    assert all(m.inplace for m in relus)
    assert all(type(m) is nn.ReLU for m in model.modules() if isinstance(m, nn.ReLU))
    assert hooks_left(model) == 0
    torch.testing.assert_close(model(images), expected_logits)
    torch.testing.assert_close(gradient(model, images, 1), expected_gradient)


def test_hooks_removed_when_the_model_raises() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), Raises())
    with pytest.raises(RuntimeError, match="boom"):
        guided_backprop(model, seeded_images(), 0)
    assert hooks_left(model) == 0


def test_model_without_relu_modules_rejected() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 3))
    with pytest.raises(ValueError, match=r"found no nn\.ReLU module"):
        guided_backprop(model, seeded_images(), 0)


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU:UserWarning")
def test_matches_captum_guided_backprop() -> None:
    captum_attr = pytest.importorskip("captum.attr")
    model = relu_cnn().double()
    images, labels = seeded_images().double(), seeded_labels()
    theirs = captum_attr.GuidedBackprop(model).attribute(
        images.clone().requires_grad_(True), target=labels
    )
    torch.testing.assert_close(guided_backprop(model, images, labels), theirs)
