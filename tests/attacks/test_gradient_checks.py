"""The gradient attacks check the model's input gradient, all of them alike.

Two classes of model break a gradient attack without a deep error: one whose logits
are finite but whose input gradient is NaN or inf (APGD and FAB were fooled 0 of 4
times by it and reported robust accuracy 1.0, while PGD refused it), and one whose
output does not depend on its input through autograd (a ``.detach()``, an integer
round trip, ``torch.no_grad()`` inside ``forward``), which ended in torch's
"differentiated Tensor ... not used in the graph" or "does not require grad". Every
gradient attack and the ensemble must refuse both with a message naming the cause, and
leave the caller's tensors, the model's mode and its gradients as they were.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.attacks import (
    APGD,
    FAB,
    PGD,
    apgd,
    auto_attack,
    fab,
    fgsm,
    pgd,
    robust_accuracy,
)
from tests._models import seeded_images, tiny_cnn

K = 4


class _NaNGradient(nn.Module):
    """Finite logits; input gradient NaN everywhere (``0 * d sqrt(u)/du`` at ``u = 0``)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_cnn(num_classes=K, batchnorm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        zero = torch.sqrt(x - x.detach()).flatten(1).sum(1, keepdim=True)
        return self.net(x) + 0 * zero


class _Cut(nn.Module):
    """A network whose forward cuts the input from the graph in one of three ways."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.net = tiny_cnn(num_classes=K, batchnorm=False)
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.how == "detach":
            return self.net(x.detach())
        if self.how == "integer round trip":
            return self.net((x * 255).round().to(torch.uint8).float() / 255)
        with torch.no_grad():
            return self.net(x)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    images = seeded_images(4)
    with torch.no_grad():  # labels the model gets right, so robust_accuracy attacks them all
        labels = _NaNGradient()(images).argmax(1)
    return images, labels


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


EPS = 16 / 255
ATTACKS = {
    "pgd": lambda m, x, y: pgd(m, x, y, eps=EPS, steps=3, generator=_gen()),
    "fgsm": lambda m, x, y: fgsm(m, x, y, eps=EPS),
    "apgd": lambda m, x, y: apgd(m, x, y, eps=EPS, steps=3, generator=_gen()),
    "apgd l2": lambda m, x, y: apgd(m, x, y, eps=0.5, norm="l2", steps=3, generator=_gen()),
    "APGD-T": lambda m, x, y: APGD(eps=EPS, steps=3, loss="dlr", targeted=True, num_targets=2)(
        m, x, y
    ),
    "fab": lambda m, x, y: fab(m, x, y, eps=EPS, steps=3, num_targets=2),
    "fab untargeted": lambda m, x, y: FAB(eps=EPS, steps=3, targeted=False)(m, x, y),
    "robust_accuracy PGD": lambda m, x, y: robust_accuracy(
        m, (x, y), PGD(eps=EPS, steps=3), progress=False
    ),
    "robust_accuracy APGD": lambda m, x, y: robust_accuracy(
        m, (x, y), APGD(eps=EPS, steps=3), progress=False
    ),
    "robust_accuracy FAB": lambda m, x, y: robust_accuracy(
        m, (x, y), FAB(eps=EPS, steps=3, num_targets=2), progress=False
    ),
    "auto_attack": lambda m, x, y: auto_attack(
        m, (x, y), eps=EPS, steps=3, num_targets=2, queries=3, progress=False
    ),
}


def _call_keeping_state(model: nn.Module, name: str, match: str) -> None:
    images, labels = _data()
    before = images.clone()
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    with pytest.raises(ValueError, match=match):
        ATTACKS[name](model, images, labels)
    assert torch.equal(images, before) and not images.requires_grad
    assert not model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_nan_input_gradient_behind_finite_logits_is_refused(name):
    model = _NaNGradient()
    images, _ = _data()
    assert torch.isfinite(model(images)).all()  # the logits alone look healthy
    _call_keeping_state(model, name, r"input gradient is NaN or inf on some inputs")


@pytest.mark.parametrize("how", ["detach", "integer round trip", "no_grad"])
@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_model_cut_from_its_input_gets_a_clear_error(name, how):
    _call_keeping_state(
        _Cut(how),
        name,
        r"^model must compute its logits from the images with operations autograd can "
        r"differentiate.*\.detach\(\).*torch\.no_grad\(\)",
    )


def test_the_same_models_with_a_healthy_gradient_are_attacked():
    """The checks fire on the broken gradient, not on the architecture: the same network
    without the cut is attacked by every entry point."""
    images, labels = _data()
    healthy = _NaNGradient().net
    for name in ATTACKS:
        ATTACKS[name](healthy, images, labels)


def test_apgd_refuses_a_string_flag():
    images, labels = _data()
    with pytest.raises(TypeError, match=r"targeted must be True or False, got str 'False'"):
        apgd(_NaNGradient().net, images, labels, eps=EPS, targeted="False")
