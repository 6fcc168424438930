"""Settings of the attack evaluations are checked before the model sees an image, and the
borderline messages say what is really accepted.

Each case was a deep or late error in the reliability sweep: ``robustness_curve(model,
data, 0.03)`` said "object of type 'float' has no len()", a bad budget late in a curve
failed after the earlier budgets had run, a per-sample ``(N,)`` eps with
``batch_size < N`` failed with a shape message about a batch the user never made,
"must be > 0 and <= 1" refused 1, and ``auto_attack`` on a 3-class model advised
``loss='ce'``, which ``auto_attack`` cannot set.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.attacks import APGD, PGD, apgd, auto_attack, fab, robust_accuracy, robustness_curve
from shapebias.data import caltech256
from shapebias.metrics import distortion_accuracy, holm
from tests._models import seeded_images, seeded_labels, tiny_cnn


def _counted(num_classes: int = 4) -> tuple[nn.Module, list[int]]:
    model = tiny_cnn(num_classes=num_classes)
    calls: list[int] = []
    model.register_forward_hook(lambda *_: calls.append(1))
    return model, calls


def _data(n: int = 8, num_classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    return seeded_images(n), seeded_labels(n, num_classes=num_classes)


def test_robustness_curve_refuses_one_float_with_the_fix():
    model, calls = _counted()
    with pytest.raises(TypeError, match=r"eps_values must be a list or tuple .* Use \[0\.03\]"):
        robustness_curve(model, _data(), 0.03, progress=False)
    assert calls == []


@pytest.mark.parametrize(
    "budgets,match",
    [
        ([4 / 255, 8], r"eps_values\[1\] is in \[0, 1\] pixel units, got 8\. Did you mean 8/255"),
        ([4 / 255, float("nan")], r"eps_values\[1\] must be a finite number"),
        ([4 / 255, -0.1], r"eps_values\[1\] must be >= 0"),
        ([4 / 255, "8/255"], r"eps_values\[1\] must be a budget in pixel units"),
    ],
)
def test_robustness_curve_checks_every_budget_before_the_first_evaluation(budgets, match):
    model, calls = _counted()
    with pytest.raises((ValueError, TypeError), match=match):
        robustness_curve(model, _data(), budgets, version="fast", steps=1, progress=False)
    assert calls == []  # the first budget did not run


def test_robustness_curve_takes_l2_budgets_above_one():
    model, _ = _counted()
    curve = robustness_curve(
        model, _data(4), [0.5, 2.0], norm="l2", version="fast", steps=1, progress=False
    )
    assert list(curve) == [0.5, 2.0]


def test_a_per_sample_eps_must_match_one_batch():
    model, calls = _counted()
    images, labels = _data(8)
    attack = PGD(eps=torch.full((8,), 8 / 255), steps=1)
    with pytest.raises(ValueError, match=r"attack\.eps is a per-sample tensor of shape \(8,\).*"
                       r"batch_size >= 8"):  # fmt: skip
        robust_accuracy(model, (images, labels), attack, batch_size=4, progress=False)
    with pytest.raises(ValueError, match=r"attack\[1\]\.eps is a per-sample tensor"):
        robust_accuracy(
            model, (images[:4], labels[:4]), [PGD(eps=0.01), attack], batch_size=8, progress=False
        )
    assert calls == []
    result = robust_accuracy(model, (images, labels), attack, batch_size=8, progress=False)
    assert result.total == 8


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda m, x, y, v: apgd(m, x, y, eps=0.01, steps=1, rho=v), "rho"),
        (lambda m, x, y, v: fab(m, x, y, eps=0.01, steps=1, beta=v, num_targets=2), "beta"),
        (lambda m, x, y, v: fab(m, x, y, eps=0.01, steps=1, alpha_max=v, num_targets=2),
         "alpha_max"),
        (lambda m, x, y, v: distortion_accuracy(m, (x, y), {}, confidence=v, progress=False),
         "confidence"),
        (lambda m, x, y, v: holm([0.01, 0.2], alpha=v), "alpha"),
        (lambda m, x, y, v: caltech256("/nonexistent", test_fraction=v), "test_fraction"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, -0.5])
def test_open_interval_messages_never_suggest_one_is_allowed(call, name, value):
    model, calls = _counted()
    images, labels = _data(4)
    with pytest.raises(ValueError) as error:
        call(model, images, labels, value)
    message = str(error.value)
    assert message.startswith(f"{name} must lie in (0, 1), got {value:g}")
    assert "<= 1" not in message
    assert calls == []


def test_auto_attack_on_three_classes_names_what_it_can_do():
    model, _ = _counted(num_classes=3)
    images, labels = _data(4, num_classes=3)
    with pytest.raises(ValueError) as error:
        auto_attack(model, (images, labels), eps=8 / 255, steps=1, progress=False)
    message = str(error.value)
    assert "auto_attack cannot" in message
    assert "num_targets=2" in message and "robust_accuracy" in message
    # the advice runs as written
    robust_accuracy(
        model,
        (images, labels),
        [APGD(eps=8 / 255, steps=1), APGD(eps=8 / 255, steps=1, targeted=True, num_targets=2)],
        progress=False,
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"eps": 8}, r"eps is in \[0, 1\] pixel units, got 8\. Did you mean 8/255"),
        ({"eps": 0.1, "norm": "l3"}, r"norm must be one of 'linf', 'l2', got 'l3'"),
        ({"eps": 0.1, "queries": 0}, r"queries must be >= 1, got 0"),
        ({"eps": 0.1, "steps": 0}, r"steps must be >= 1, got 0"),
    ],
)
def test_auto_attack_checks_its_settings_before_the_first_image(kwargs, match):
    model, calls = _counted()
    with pytest.raises(ValueError, match=match):
        auto_attack(model, _data(4), progress=False, **kwargs)
    assert calls == []  # not even the clean forward of the first batch ran
