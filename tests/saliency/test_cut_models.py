"""Every saliency method refuses a model cut from its input with one clear error.

A model whose ``forward`` detaches its input, rounds it through an integer type, or runs
under ``torch.no_grad()`` has no input gradient. Before, the methods ended in torch's
"element 0 of tensors does not require grad" or "One of the differentiated Tensors
appears to not have been used in the graph"; now each names the model, the likely causes
and the fix, and leaves the model's mode, ``requires_grad`` flags and ``.grad`` as they were.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from shapebias.saliency import (
    grad_cam,
    gradient,
    guided_backprop,
    input_x_gradient,
    integrated_gradients,
    model_randomization_test,
    smoothgrad,
)
from tests._models import seeded_images, seeded_labels, tiny_cnn


class _Cut(nn.Module):
    """``tiny_cnn`` behind a forward that cuts the graph in one of five ways."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.net = tiny_cnn(batchnorm=False)
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.how == "detach input":
            return self.net(x.detach())
        if self.how == "integer round trip":
            return self.net((x * 255).round().to(torch.uint8).float() / 255)
        if self.how == "detach output":
            return self.net(x).detach()
        if self.how == "detach after the layer":
            features = self.net[:2](x).detach()
            return self.net[2:](features)
        with torch.no_grad():
            return self.net(x)


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


METHODS = {
    "gradient": gradient,
    "input_x_gradient": input_x_gradient,
    "smoothgrad": lambda m, x, t: smoothgrad(m, x, t, n_samples=2, generator=_generator()),
    "integrated_gradients": functools.partial(integrated_gradients, steps=2),
    "guided_backprop": guided_backprop,
    "grad_cam": functools.partial(grad_cam, layer="net.0"),
    "model_randomization_test": lambda m, x, t: model_randomization_test(
        m, x, t, "smoothgrad", method_kwargs={"n_samples": 2}, generator=_generator()
    ),
}
INPUT_CUTS = ["detach input", "integer round trip", "detach output", "no_grad"]
CLEAR = (
    r"^model must compute its logits from the images with operations autograd can "
    r"differentiate, but its output does not depend on its input through autograd, so "
    r"(a saliency map has no input gradient|grad_cam has no gradient at any layer)\. "
    r"Likely cause, inside forward: a \.detach\(\).*torch\.no_grad\(\).*Remove it.*"
    r"explain the differentiable network it calls\.$"
)


def _state(model: nn.Module) -> list:
    return [
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
        [p.grad for p in model.parameters()],
    ]


def _refused(name: str, model: nn.Module, match: str) -> None:
    images, labels = seeded_images(), seeded_labels()
    before_images, before = images.clone(), _state(model)
    with pytest.raises(ValueError, match=match):
        METHODS[name](model, images, labels)
    assert torch.equal(images, before_images) and not images.requires_grad
    assert _state(model) == before
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("how", INPUT_CUTS)
@pytest.mark.parametrize("name", sorted(set(METHODS) - {"grad_cam"}))
def test_a_model_cut_from_its_input_gets_the_clear_error(name, how):
    _refused(name, _Cut(how).eval(), CLEAR)


def test_the_state_is_kept_for_a_model_in_training_mode():
    """A model left in training mode (no BatchNorm/Dropout, so no warning) stays in it."""
    model = _Cut("no_grad").train()
    _refused("gradient", model, CLEAR)
    assert model.training and model.net.training


@pytest.mark.parametrize("how", ["detach output", "no_grad"])
def test_grad_cam_on_a_model_whose_output_is_cut_gets_the_clear_error(how):
    _refused("grad_cam", _Cut(how).eval(), CLEAR)


def test_grad_cam_names_a_cut_between_the_layer_and_the_logits():
    _refused(
        "grad_cam",
        _Cut("detach after the layer").eval(),
        r"does not depend on layer Conv2d through autograd; pick a layer on the path to "
        r"the logits, after any cut of the graph in forward \(a \.detach\(\)",
    )


def test_grad_cam_needs_no_input_gradient():
    """Grad-CAM differentiates at the layer, so a model that detaches its input (before
    the layer) is explained as the network itself is."""
    model = _Cut("detach input").eval()
    images, labels = seeded_images(), seeded_labels()
    torch.testing.assert_close(
        grad_cam(model, images, labels, layer="net.0"),
        grad_cam(model.net, images, labels, layer="0"),
        rtol=0,
        atol=0,
    )


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_same_network_without_the_cut_is_explained(name):
    """The check fires on the cut graph, not on the wrapper: the uncut network passes."""
    model = _Cut("none").eval()
    model.forward = model.net.forward  # type: ignore[method-assign]
    result = METHODS[name](model, seeded_images(), seeded_labels())
    maps = result.correlation if name == "model_randomization_test" else result
    assert maps.numel() > 0 and not maps.isnan().all()
