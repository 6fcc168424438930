"""Loss schedules: eps warm-up and alternating clean/adversarial batches."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.attacks import FGSM, PGD
from shapebias.training import (
    AdversarialLoss,
    Alternating,
    EpsWarmup,
    FGSMRSLoss,
    StandardLoss,
    Step,
    TradesLoss,
)
from shapebias.training._schedules import resolve_loss, scale_budget


def _step(epoch: int, batch: int, batches: int | None = 10) -> Step:
    return Step(epoch, batch, batches, epoch * (batches or 1) + batch)


def test_scale_budget_reaches_nested_attacks_and_explicit_steps():
    loss = AdversarialLoss(PGD(eps=0.04, step_size=0.01, steps=3))
    scaled = scale_budget(loss, 0.5)
    assert scaled.attack.eps == pytest.approx(0.02)
    assert scaled.attack.step_size == pytest.approx(0.005)
    assert scaled.attack.steps == 3 and loss.attack.eps == 0.04  # the original is unchanged
    assert scale_budget(FGSMRSLoss(eps=0.04), 0.5).step_size is None  # derived: follows eps
    trades = scale_budget(TradesLoss(eps=0.04, step_size=0.01), 0.25)
    assert (trades.eps, trades.step_size) == pytest.approx((0.01, 0.0025))
    assert scale_budget(AdversarialLoss(FGSM(eps=0.04)), 0.5).attack.eps == pytest.approx(0.02)


def test_warmup_is_linear_per_batch_and_reaches_full_budget():
    warm = EpsWarmup(AdversarialLoss(PGD(eps=0.04)), epochs=2)
    factors = [warm.factor(_step(e, b, 4)) for e in range(3) for b in range(4)]
    assert factors[:8] == pytest.approx([(i + 1) / 8 for i in range(8)])
    assert factors[8:] == [1.0] * 4
    assert warm.at(_step(0, 1, 4)).attack.eps == pytest.approx(0.01)


def test_warmup_without_loader_length_ramps_per_epoch():
    warm = EpsWarmup(AdversarialLoss(PGD(eps=0.04)), epochs=4)
    assert warm.factor(Step(1, 7, None, 20)) == pytest.approx(0.5)


@given(st.integers(0, 20), st.integers(0, 30), st.integers(1, 30), st.integers(1, 5))
def test_warmup_factor_is_in_unit_interval_and_monotone(epoch, batch, batches, epochs):
    batch = batch % batches
    warm = EpsWarmup(FGSMRSLoss(), epochs=epochs)
    now = warm.factor(Step(epoch, batch, batches, 0))
    later = warm.factor(Step(epoch + 1, batch, batches, 0))
    assert 0 < now <= later <= 1


def test_alternating_cycles_by_global_step():
    clean, adversarial = StandardLoss(), AdversarialLoss(PGD(eps=0.03))
    schedule = Alternating((clean, adversarial), every=2)
    picked = [schedule.at(Step(0, i, 8, i)) for i in range(6)]
    assert picked == [clean, clean, adversarial, adversarial, clean, clean]


def test_nested_schedules_resolve():
    schedule = EpsWarmup(Alternating((FGSMRSLoss(eps=0.04), TradesLoss(eps=0.04))), epochs=1)
    loss = resolve_loss(schedule, Step(0, 1, 2, 1))
    assert isinstance(loss, TradesLoss) and loss.eps == pytest.approx(0.04)


def test_schedule_errors():
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        EpsWarmup(FGSMRSLoss(), epochs=0)
    with pytest.raises(ValueError, match="at least two losses"):
        Alternating((StandardLoss(),))
    with pytest.raises(ValueError, match="every must be >= 1"):
        Alternating((StandardLoss(), StandardLoss()), every=0)
    with pytest.raises(TypeError, match="EpsWarmup needs a loss with a budget to scale"):
        EpsWarmup(StandardLoss(), epochs=2).at(_step(0, 0))


@dataclass(frozen=True)
class _FieldNamedEps:
    """A user loss with a field that happens to be called eps (a smoothing constant)."""

    eps: float = 0.1

    def __call__(self, model, images, labels):
        raise AssertionError("not called")


@dataclass(frozen=True)
class _OwnAttack:
    eps: float

    def __call__(self, model, images, labels):
        return images

    def scaled(self, factor):
        return _OwnAttack(self.eps * factor + 1.0)  # a deliberately recognisable rule


def test_budget_is_scaled_only_through_the_scaled_protocol():
    """No field is scaled because of its name; an object's own scaled() is what counts."""
    with pytest.raises(TypeError, match="got _FieldNamedEps"):
        scale_budget(_FieldNamedEps(), 0.5)
    with pytest.raises(TypeError, match="cannot scale the budget of a _FieldNamedEps attack"):
        scale_budget(AdversarialLoss(_FieldNamedEps()), 0.5)
    scaled = EpsWarmup(AdversarialLoss(_OwnAttack(0.2)), epochs=2).at(_step(0, 4, 10))
    assert scaled.attack == _OwnAttack(0.2 * 0.25 + 1.0)


def test_generators_of_schedules_are_those_of_their_losses():
    first, second = torch.Generator(), torch.Generator()
    schedule = EpsWarmup(
        Alternating((FGSMRSLoss(generator=first), TradesLoss(generator=second), StandardLoss())),
        epochs=2,
    )
    assert schedule.generators() == [first, second]
    assert Alternating((StandardLoss(), AdversarialLoss(PGD(eps=0.1)))).generators() == []
    assert Alternating((StandardLoss(), lambda m, x, y: x.sum())).generators() is None
