"""Bad input to APGD, Square and the ensemble: a clear error naming the parameter."""

import pytest
import torch

from shapebias.attacks import APGD, apgd, auto_attack, auto_attack_suite, robustness_curve, square
from tests._models import seeded_images, seeded_labels, tiny_cnn


def _data(num_classes=3):
    return (
        tiny_cnn(num_classes=num_classes),
        seeded_images(),
        seeded_labels(num_classes=num_classes),
    )


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"rho": 0.0}, ValueError, r"rho must lie in \(0, 1\), got 0\. The usual value is 0\.75"),
        ({"rho": 1.0}, ValueError, r"rho must lie in \(0, 1\), got 1"),
        ({"rho": 1.5}, ValueError, r"rho must lie in \(0, 1\), got 1\.5"),
        ({"rho": "0.75"}, TypeError, "rho must be a real number"),
        ({"loss": "margin"}, ValueError, r"loss must be one of 'ce', 'dlr', got 'margin'"),
        ({"norm": "l1"}, ValueError, "norm must be one of"),
        ({"steps": -1}, ValueError, "steps must be >= 0"),
        ({"restarts": 0}, ValueError, "restarts must be >= 1"),
        ({"num_targets": 0}, ValueError, "num_targets must be >= 1"),
        ({"eps": 8}, ValueError, "Did you mean 8/255"),
        (
            {"targeted": True, "num_targets": 3},
            ValueError,
            r"num_targets must be below the model's 3 classes.*num_targets=2",
        ),
        (
            {"loss": "dlr", "targeted": True, "num_targets": 2},
            ValueError,
            r"at least 4 classes for the targeted DLR",
        ),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_apgd_errors(kwargs, error, match):
    model, images, labels = _data()
    settings = {"eps": 8 / 255, "steps": 2, **kwargs}
    with pytest.raises(error, match=match):
        apgd(model, images, labels, **settings)


def test_dlr_needs_three_classes():
    model, images, labels = _data(num_classes=2)
    with pytest.raises(
        ValueError, match=r"at least 3 classes for the DLR loss, got 2\. Use loss='ce'"
    ):
        apgd(model, images, labels, eps=0.01, loss="dlr")


def test_non_model_and_unknown_keyword():
    _, images, labels = _data()
    with pytest.raises(TypeError, match="model must be a callable"):
        apgd(42, images, labels, eps=0.01)
    with pytest.raises(TypeError, match="model must be a callable"):
        square("model", images, labels, eps=0.01)
    with pytest.raises(TypeError, match="unexpected keyword"):
        APGD(eps=0.01, step=3)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"queries": 0}, ValueError, "queries must be >= 1, got 0"),
        ({"queries": 2.5}, TypeError, "queries must be an int"),
        ({"p_init": 0.0}, ValueError, "p_init must be > 0 and <= 1, got 0"),
        ({"p_init": 1.2}, ValueError, "p_init must be > 0 and <= 1, got 1.2"),
        ({"norm": "linf2"}, ValueError, "norm must be one of"),
        ({"eps": -0.1}, ValueError, "eps must be >= 0"),
    ],
)
def test_square_errors(kwargs, error, match):
    model, images, labels = _data()
    with pytest.raises(error, match=match):
        square(model, images, labels, **{"eps": 8 / 255, "queries": 3, **kwargs})


def test_ensemble_errors():
    model, images, labels = _data()
    with pytest.raises(ValueError, match=r"version must be one of 'standard', 'fast', got 'plus'"):
        auto_attack_suite(8 / 255, version="plus")
    with pytest.raises(ValueError, match="version must be one of"):
        auto_attack(model, (images, labels), eps=8 / 255, version="rand", progress=False)
    with pytest.raises(ValueError, match="auto_attack cannot: its APGD-T always uses the"):
        auto_attack(model, (images, labels), eps=8 / 255, steps=1, progress=False)
    with pytest.raises(ValueError, match="eps_values must hold at least one budget"):
        robustness_curve(model, (images, labels), [])
    with pytest.raises(TypeError, match="model must be a callable"):
        auto_attack(None, (images, labels), eps=8 / 255, progress=False)


def test_errors_leave_the_model_unchanged():
    model, images, labels = _data()
    model.train()
    with pytest.raises(ValueError), pytest.warns(UserWarning):
        apgd(model, images, labels, eps=0.01, targeted=True, num_targets=5)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert not images.requires_grad and torch.equal(images, seeded_images())
