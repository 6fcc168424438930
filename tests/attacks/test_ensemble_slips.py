"""The AutoAttack suite in every norm and version, and the robustness curve's masking check."""

from __future__ import annotations

import warnings

import pytest
import torch

from shapebias.attacks import (
    APGD,
    FAB,
    GradientMaskingWarning,
    Square,
    auto_attack,
    auto_attack_suite,
    robust_accuracy,
    robustness_curve,
)
from shapebias.attacks._masking import warn_if_not_monotone
from tests.attacks._nets import mlp_task


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("version", ["standard", "fast"])
def test_every_attack_of_the_suite_gets_every_setting(norm, version):
    """Slips caught: a norm, budget, generator or target count left at its default."""
    generator = torch.Generator()
    eps = 0.25 if norm == "l2" else 3 / 255
    suite = auto_attack_suite(
        eps, norm=norm, version=version, steps=7, num_targets=4, queries=11, generator=generator
    )
    kinds = [APGD, APGD, FAB, Square] if version == "standard" else [APGD, APGD]
    assert [type(a) for a in suite] == kinds
    for attack in suite:
        assert (attack.norm, attack.eps, attack.generator) == (norm, eps, generator)
    apgd_ce, apgd_t = suite[:2]
    assert (apgd_ce.loss, apgd_ce.targeted, apgd_ce.steps) == ("ce", False, 7)
    assert (apgd_t.loss, apgd_t.targeted, apgd_t.steps) == ("dlr", True, 7)
    assert apgd_t.num_targets == (4 if version == "standard" else 3)
    if version == "standard":
        fab_t, square = suite[2:]
        assert (fab_t.targeted, fab_t.steps, fab_t.num_targets) == (True, 7, 4)
        assert square.queries == 11


def test_l2_auto_attack_equals_the_l2_attacks_run_by_hand():
    """``auto_attack(norm="l2")`` is exactly the four L2 attacks in sequence; a suite that
    attacked in L-inf would break far more at this budget (an L2 ball of 0.15 on 36
    pixels holds an L-inf ball of only 0.025, an L-inf ball of 0.15 is much larger)."""
    model, images, labels = mlp_task(n=24, seed=2, wrong=0)
    settings = {"eps": 0.15, "steps": 4, "num_targets": 3, "queries": 30, "progress": False}
    l2 = auto_attack(model, (images, labels), norm="l2", generator=torch.Generator().manual_seed(3),
                     **settings)  # fmt: skip
    gen = torch.Generator().manual_seed(3)
    by_hand = [
        APGD(eps=0.15, norm="l2", steps=4, generator=gen),
        APGD(eps=0.15, norm="l2", steps=4, loss="dlr", targeted=True, num_targets=3, generator=gen),
        FAB(eps=0.15, norm="l2", steps=4, num_targets=3, generator=gen),
        Square(eps=0.15, norm="l2", queries=30, generator=gen),
    ]
    expected = robust_accuracy(model, (images, labels), by_hand, progress=False)
    assert torch.equal(l2.broken_by, expected.broken_by)
    linf = auto_attack(model, (images, labels), norm="linf", **settings)
    assert linf.robust < l2.robust


def test_the_curve_is_read_in_budget_order_and_ties_do_not_warn():
    """Slips caught: pairs taken in the order given (not by budget); ``>=`` for ``>``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_not_monotone({0.1: 0.4, 0.0: 0.9})  # given largest first: still monotone
        warn_if_not_monotone({0.0: 0.5, 0.05: 0.5, 0.1: 0.5})  # flat: a robust model
    with pytest.warns(
        GradientMaskingWarning, match=r"rises from 0.4 at eps=0.05 to 0.5 at eps=0.1"
    ):
        warn_if_not_monotone({0.1: 0.5, 0.0: 0.9, 0.05: 0.4})


def test_robustness_curve_given_budgets_largest_first():
    model, images, labels = mlp_task(n=16, seed=1, wrong=2)
    curve = robustness_curve(
        model, (images, labels), [0.2, 0.0], version="fast", steps=3, num_targets=2,
        generator=torch.Generator().manual_seed(0), progress=False,
    )  # fmt: skip
    assert list(curve) == [0.2, 0.0]
    assert curve[0.0].robust == curve[0.0].clean == 14 / 16 and curve[0.2].robust < 14 / 16


def test_square_before_any_gradient_attack_is_no_sign_of_masking():
    """Slip caught: the masking warning without its second condition (a gradient attack
    ran before the black-box one): Square alone, or first, breaks samples on any model."""
    model, images, labels = mlp_task(n=16, seed=0, wrong=0)
    square = Square(eps=0.1, queries=30, generator=torch.Generator().manual_seed(0))
    gradient = APGD(eps=0.1, steps=2, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = robust_accuracy(model, (images, labels), square, progress=False)
        first = robust_accuracy(model, (images, labels), [square, gradient], progress=False)
    assert alone.robust < alone.clean and int((first.broken_by == 0).sum()) > 0
