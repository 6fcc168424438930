"""Grad-CAM: reference implementation, layer resolution, hook hygiene, captum."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shapebias.models import resnet18
from shapebias.saliency import grad_cam
from tests._models import seeded_images, seeded_labels, tiny_cnn
from tests.saliency._nets import Raises, hooks_left, relu_cnn


def reference_grad_cam(model: nn.Sequential, split: int, images, target):
    """Literal Grad-CAM on a Sequential cut after module ``split``."""
    activation = model[: split + 1](images).detach().requires_grad_(True)
    score = model[split + 1 :](activation).gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(score, activation)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(1, keepdim=True))
    return F.interpolate(cam.detach(), size=images.shape[-2:], mode="bilinear")


@pytest.mark.parametrize("split", [0, 1, 2, 3])
def test_matches_literal_reference(split: int) -> None:
    model = relu_cnn().double()
    images, labels = seeded_images().double(), seeded_labels()
    ours = grad_cam(model, images, labels, layer=model[split])
    torch.testing.assert_close(ours, reference_grad_cam(model, split, images, labels))


def test_layer_by_name_equals_layer_by_module_and_options() -> None:
    model, images, labels = relu_cnn(), seeded_images(), seeded_labels()
    by_name = grad_cam(model, images, labels, layer="2")
    torch.testing.assert_close(by_name, grad_cam(model, images, labels, layer=model[2]))
    assert (by_name >= 0).all()
    small = grad_cam(model, images, labels, layer="2", upsample=False, relu=False)
    assert small.shape == (4, 1, 8, 8)
    assert (small < 0).any()
    torch.testing.assert_close(
        F.interpolate(small.clamp_min(0), size=(8, 8), mode="bilinear"), by_name
    )


def test_inplace_relu_after_the_layer_does_not_corrupt_the_activation() -> None:
    images, labels = seeded_images(), seeded_labels()
    plain = grad_cam(relu_cnn(), images, labels, layer="2", relu=False, upsample=False)
    inplace = grad_cam(
        relu_cnn(inplace=True), images, labels, layer="2", relu=False, upsample=False
    )
    torch.testing.assert_close(inplace, plain)


def test_resnet_blocks_with_inplace_relus() -> None:
    model = resnet18(4).eval()
    images = seeded_images(1, size=8)
    result = grad_cam(model, images, None, layer=model.layer4)
    assert result.shape == (1, 1, 8, 8)
    assert hooks_left(model) == 0


def test_hooks_removed_on_success_and_on_error() -> None:
    model = relu_cnn()
    grad_cam(model, seeded_images(), 0, layer="0")
    assert hooks_left(model) == 0
    failing = nn.Sequential(nn.Conv2d(3, 4, 3), Raises())
    with pytest.raises(RuntimeError, match="boom"):
        grad_cam(failing, seeded_images(), 0, layer="0")
    assert hooks_left(failing) == 0


class TwoBranches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.unused = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        twice = self.conv(self.conv(x)[:, :3])  # a shared layer: runs two times
        return self.head(twice.mean((2, 3)))


class Detached(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.conv(x)
        return self.head(x.mean((2, 3)))


@pytest.mark.parametrize(
    ("model", "layer", "error", "match"),
    [
        (relu_cnn(), nn.Conv2d(3, 3, 1), ValueError, "is not a submodule of the model"),
        (relu_cnn(), "7.weight", ValueError, "'7.weight' is not a submodule"),
        (relu_cnn(), "missing", ValueError, "'missing' is not a submodule"),
        (relu_cnn(), 3, TypeError, "layer must be a submodule of the model or its dotted name"),
        (TwoBranches(), "unused", ValueError, "never ran in the model's forward pass"),
        (TwoBranches(), "conv", ValueError, "ran 2 times in one forward pass"),
        (relu_cnn(), "5", ValueError, r"must output a \(N, K, h, w\) feature map"),
        (Detached(), "conv", ValueError, "does not depend on layer Conv2d"),
    ],
)
def test_bad_layers(model, layer, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        grad_cam(model, seeded_images(), 0, layer=layer)
    assert hooks_left(model) == 0


def test_plain_callable_rejected() -> None:
    model = tiny_cnn()
    with pytest.raises(TypeError, match=r"grad_cam needs model to be a torch\.nn\.Module"):
        grad_cam(lambda x: model(x), seeded_images(), 0, layer="0")


def test_matches_captum_layer_grad_cam() -> None:
    captum_attr = pytest.importorskip("captum.attr")
    model = relu_cnn().double()
    images, labels = seeded_images().double(), seeded_labels()
    theirs = captum_attr.LayerGradCam(model, model[2]).attribute(
        images, target=labels, relu_attributions=True
    )
    ours = grad_cam(model, images, labels, layer=model[2], upsample=False)
    torch.testing.assert_close(ours, theirs)
