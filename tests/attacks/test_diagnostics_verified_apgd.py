"""A bookkeeping slip the verified count found on the quick reproduction (issue 25): APGD
recorded a sample as fooled by the iterate that fooled it, but a step-size checkpoint in
the same iteration had already moved the sample back to its best-objective point (which
the model classifies correctly), and that point was returned. The verified count then
disagreed with the attack, and the robust accuracy counted a broken sample as robust."""

from __future__ import annotations

import torch
from torch import nn

from shapebias._config import config_kwargs
from shapebias.attacks import APGD, robust_accuracy
from shapebias.attacks._apgd import apgd_fooled
from shapebias.attacks._diagnostics import start_point

CLEAN, EPS = 0.5, 0.25


class _FooledAtLowerLoss(nn.Module):
    """Three logits of a one-pixel image ``x``, label 0, around the start point ``x0``:
    ``[1, 0.9 + 2 d, 0.9 + 2 d - 400 d^2]`` with ``d = x - x0``.

    At ``x0`` class 0 wins narrowly (cross-entropy 1.03) and the loss rises with ``x``, so
    the first step goes to ``x1 = CLEAN + EPS``, where class 1 wins (the sample is fooled)
    at a *lower* cross-entropy (about 0.9): the best-objective point stays ``x0``. With
    three steps every iteration is a checkpoint, and the loss did not rise, so the step
    halves and the iterate returns to ``x0`` in the very iteration that fooled the model.
    """

    def __init__(self, x0: float) -> None:
        super().__init__()
        self.x0 = x0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.flatten(1)[:, :1] - self.x0
        one = torch.ones_like(d)
        return torch.cat([one, 0.9 + 2 * d, 0.9 + 2 * d - 400 * d**2], 1)


def _task(seed: int = 4):
    images = torch.full((1, 1, 1, 1), CLEAN, dtype=torch.float64)
    labels = torch.zeros(1, dtype=torch.long)
    attack = APGD(eps=EPS, steps=3, generator=torch.Generator().manual_seed(seed))
    # the attack's own random start (drawn from a copy of its generator)
    x0 = float(start_point(attack, lambda x: x.flatten(1), images, labels).flatten()[0])
    return _FooledAtLowerLoss(x0).eval(), images, labels, attack


def test_the_constructed_trajectory_is_the_one_described():
    model = _task()[0]
    x0, x1 = model.x0, CLEAN + EPS
    assert x1 - x0 > 0.2  # far enough that the curvature term dominates at x1
    logits = model(torch.tensor([[[[x0]]], [[[x1]]]], dtype=torch.float64))
    loss = nn.functional.cross_entropy(logits, torch.zeros(2, dtype=torch.long), reduction="none")
    assert logits.argmax(1).tolist() == [0, 1] and loss[1] < loss[0]


def test_a_sample_fooled_at_a_checkpoint_leaves_with_the_fooling_iterate():
    model, images, labels, attack = _task()
    active = torch.ones(1, dtype=torch.bool)
    fooled, adversarial = apgd_fooled(model, images, labels, active, **config_kwargs(attack))
    with torch.no_grad():
        really = model(adversarial).argmax(1) != labels
    assert fooled.tolist() == [True] and really.tolist() == [True]
    assert float((adversarial - images).abs().max()) <= EPS + 1e-12


def test_robust_accuracy_counts_it_broken_with_no_disagreement():
    model, images, labels, attack = _task()
    result = robust_accuracy(model, (images, labels), attack, progress=False)
    # the slip reported robust 1.0 and one disagreement (a GradientMaskingWarning)
    assert (result.clean, result.robust) == (1.0, 0.0)
    assert result.diagnostics.disagreements == 0 and not result.diagnostics.suspect
