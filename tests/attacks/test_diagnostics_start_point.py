"""The zero-gradient diagnostic at the attack's start point (issue 25): a gradient that is
there at the clean images but vanishes beside them is caught; the start checked is the
attack's own, drawn without touching its randomness."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.attacks import (
    APGD,
    FAB,
    FGSM,
    PGD,
    Diagnostics,
    GradientMaskingWarning,
    Square,
    apgd,
    auto_attack,
    pgd,
    robust_accuracy,
)
from shapebias.attacks._diagnostics import start_point
from tests.attacks._nets import mlp_task

_FAST = {"version": "fast", "steps": 3, "num_targets": 3, "progress": False}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _on_grid(images: torch.Tensor) -> torch.Tensor:
    """The images moved to the nearest 8-bit level (what an image file holds)."""
    return torch.round(images * 255) / 255


class _ExactOnGrid(nn.Module):
    """Differentiable exactly on the 8-bit levels, quantised to them anywhere else.

    An image whose every pixel is an 8-bit level passes through untouched (the input
    gradient is the network's); any other is rounded to the levels, which keeps it in
    the graph with a zero gradient. So the clean images of an image file look fine and
    every point an attack visits does not.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        quantised = _on_grid(x)
        exact = (quantised == x).flatten(1).all(1).view(-1, 1, 1, 1)
        return self.net(torch.where(exact, x, quantised))


def _grid_task():
    """mlp_task's net and images on the 8-bit grid, labelled by the masked model."""
    net, images, _ = mlp_task()
    model = _ExactOnGrid(net).eval()
    images = _on_grid(images)
    with torch.no_grad():
        labels = model(images).argmax(1)
    return model, images, labels


@pytest.mark.parametrize(("kind", "name"), [(PGD, "PGD"), (APGD, "APGD-CE")])
def test_gradient_vanishing_beside_the_clean_point_is_flagged_at_the_start(kind, name):
    model, images, labels = _grid_task()
    with pytest.warns(GradientMaskingWarning, match=rf"40 of 40 .* start point of {name}"):
        result = robust_accuracy(
            model, (images, labels), kind(eps=0.05, steps=5, generator=_gen(1)), progress=False
        )
    d = result.diagnostics
    assert d.zero_gradient_count == 0 and d.zero_gradient == 0.0  # clean point: fine
    assert d.start_zero_gradient_count == 40 and d.start_zero_gradient == 1.0
    assert d.start_attack == name and d.suspect
    assert d.findings() == [f"zero gradient at {name} start 100.0 %"]
    assert result.to_dict()["diagnostics"]["start_zero_gradient_count"] == 40
    # the masking is real: the same attack breaks far more samples of the unmasked net
    net = model.net
    plain = robust_accuracy(
        net, (images, labels), kind(eps=0.05, steps=5, generator=_gen(1)), progress=False
    )
    assert plain.clean == 1.0 and plain.robust < result.robust - 0.2
    assert plain.diagnostics.start_zero_gradient_count == 0 and not plain.diagnostics.suspect


def test_fast_auto_attack_flags_the_start_and_a_plain_model_is_clean():
    model, images, labels = _grid_task()
    with pytest.warns(GradientMaskingWarning, match="start point of APGD-CE"):
        result = auto_attack(model, (images, labels), eps=0.05, generator=_gen(), **_FAST)
    assert result.diagnostics.start_zero_gradient_count == result.clean_correct == 40
    net, images, labels = mlp_task()
    # warnings are errors: a false alarm fails here
    clean = auto_attack(net, (images, labels), eps=0.05, generator=_gen(), **_FAST)
    d = clean.diagnostics
    assert (d.start_zero_gradient, d.start_zero_gradient_count) == (0.0, 0) and not d.suspect


def test_only_the_samples_masked_at_the_start_are_counted():
    # half of the batch sees the masked model, half the plain net (per position)
    net, images, _ = mlp_task()
    masked = _ExactOnGrid(net)
    images = _on_grid(images)

    def half(x):
        keep = (torch.arange(x.shape[0]) % 2 == 0).view(-1, 1)
        return torch.where(keep, net(x), masked(x))

    with torch.no_grad():
        labels = half(images).argmax(1)
    attack = PGD(eps=0.05, steps=0, generator=_gen(2))
    with pytest.warns(GradientMaskingWarning, match=r"20 of 40 .* start point of PGD"):
        result = robust_accuracy(half, (images, labels), attack, progress=False)
    assert result.diagnostics.start_zero_gradient_count == 20
    assert result.diagnostics.zero_gradient_count == 0


@pytest.mark.parametrize("seeded", [True, False])
def test_the_start_checked_is_the_attacks_own_and_its_randomness_is_untouched(seeded):
    net, images, labels = mlp_task()
    for make, run in (
        (
            lambda g: PGD(eps=0.05, steps=0, generator=g),
            lambda g: pgd(net, images, labels, eps=0.05, steps=0, generator=g),
        ),
        (
            lambda g: APGD(eps=0.05, steps=0, norm="l2", generator=g),
            lambda g: apgd(net, images, labels, eps=0.05, steps=0, norm="l2", generator=g),
        ),
    ):  # with steps=0 both return their start point
        if seeded:
            generator = _gen(5)
            point = start_point(make(generator), net, images, labels)
            assert torch.equal(generator.get_state(), _gen(5).get_state())  # not consumed
            expected = run(_gen(5))
        else:
            torch.manual_seed(5)
            point = start_point(make(None), net, images, labels)
            state = torch.get_rng_state()
            torch.manual_seed(5)
            assert torch.equal(state, torch.get_rng_state())  # global state not advanced
            expected = run(None)
        assert point is not None and torch.equal(point, expected)
        assert not torch.equal(point, images)


def test_attacks_without_a_random_start_start_at_the_clean_point_at_no_extra_cost():
    net, images, labels = mlp_task()
    for attack in (
        FGSM(eps=0.05),
        PGD(eps=0.05, steps=2, random_start=False),
        FAB(eps=0.05, steps=2, num_targets=1),
    ):
        assert start_point(attack, net, images, labels) is images
    assert start_point(Square(eps=0.05, queries=2), net, images, labels) is None
    calls = []

    def counting(x):
        calls.append(x.shape[0])
        return net(x)

    plain = robust_accuracy(counting, (images, labels), FGSM(eps=0.05), progress=False)
    d = plain.diagnostics
    assert (d.start_attack, d.start_zero_gradient_count, d.start_zero_gradient) == ("FGSM", 0, 0.0)
    # clean, two stochastic-check passes, the clean gradient check, FGSM's two passes
    # (gradient and end point) and the verification: a clean start adds no pass
    assert len(calls) == 7


def test_start_unknown_for_custom_and_gradient_free_attacks():
    net, images, labels = mlp_task()

    def custom(model, x, y):
        return x.clone()

    for attack in (custom, Square(eps=0.05, queries=3, generator=_gen())):
        d = robust_accuracy(net, (images, labels), attack, progress=False).diagnostics
        assert (d.start_zero_gradient, d.start_zero_gradient_count, d.start_attack) == (
            None,
            None,
            None,
        )
    # Square first, APGD after it: APGD is the first gradient attack, and its start is checked
    attacks = [Square(eps=0.05, queries=3, generator=_gen()), APGD(eps=0.05, steps=2)]
    d = robust_accuracy(net, (images, labels), attacks, progress=False).diagnostics
    assert d.start_attack == "APGD-CE" and d.start_zero_gradient_count == 0


def test_default_record_has_no_start_finding_and_dict_round_trip():
    d = Diagnostics()
    assert d.start_zero_gradient is None and not d.suspect and d.findings() == []
    flagged = Diagnostics(start_zero_gradient=0.5, start_zero_gradient_count=3, start_attack="PGD")
    assert flagged.suspect and flagged.to_dict()["suspect"] is True
    assert Diagnostics(**{k: v for k, v in flagged.to_dict().items() if k != "suspect"}) == flagged
