"""FAB on the inputs where plausible slips show: a model only restarts can break, and a
perturbation whose norm is exactly the budget."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.attacks import FAB, fab, robust_accuracy


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


class _MaskedHinge(nn.Module):
    """Two classes, ``f_1 - f_0 = relu(s - b) - 0.01 s - m`` with ``s = sum(x)`` over 4 pixels.

    At the clean images (``s = b - 0.04``) the ReLU is off and the gradient, ``-0.01``
    per pixel, points away from the only boundary (``s ~ b + m``, an L-inf step of 0.02):
    FAB from the clean image never finds it. A random restart at radius ``eps / 2 = 0.05``
    that lands with the ReLU on sees the true gradient and breaks the sample.
    """

    def __init__(self, b: float = 2.04, m: float = 0.02) -> None:
        super().__init__()
        self.b, self.m = b, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.flatten(1).sum(1)
        diff = torch.relu(s - self.b) - 0.01 * s - self.m
        return torch.stack([torch.zeros_like(diff), diff], dim=1)


def _restart_task(n: int = 12):
    images = torch.full((n, 1, 2, 2), 0.5, dtype=torch.float64)  # s = 2 = b - 0.04
    return _MaskedHinge(), images, torch.zeros(n, dtype=torch.int64)


def _broken(model, images, labels, adversarial):
    with torch.no_grad():
        return (model(adversarial).argmax(1) != labels) & (adversarial != images).flatten(1).any(1)


@pytest.mark.parametrize("targeted", [True, False])
def test_only_the_random_restart_breaks_what_the_clean_start_cannot(targeted):
    """Slip caught: a second run that repeats the clean start (``restart > 1`` for ``> 0``)."""
    model, images, labels = _restart_task()
    kwargs = {"eps": 0.1, "norm": "linf", "steps": 10, "targeted": targeted, "num_targets": 1}
    once = fab(model, images, labels, restarts=1, generator=_gen(0), **kwargs)
    assert not bool(_broken(model, images, labels, once).any())
    twice = fab(model, images, labels, restarts=2, generator=_gen(0), **kwargs)
    broken = _broken(model, images, labels, twice)
    assert 0 < int(broken.sum()) < 12  # some random starts land with the ReLU on
    assert bool(((twice - images).abs().flatten(1).amax(1) <= 0.1).all())
    # the ensemble path (early stop at the first success) counts the same samples
    result = robust_accuracy(
        model, (images, labels), FAB(restarts=2, generator=_gen(0), **kwargs), progress=False
    )
    assert result.robust_correct == 12 - int(broken.sum())


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_a_perturbation_exactly_on_the_budget_counts(norm):
    """Slip caught: ``size < eps`` for ``size <= eps`` (budget edges are closed, as for
    every attack: eps is the largest allowed norm)."""
    w = torch.tensor([0.8, -0.5, 0.3, -0.2], dtype=torch.float64)
    layer = nn.Linear(4, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.stack([torch.zeros(4, dtype=torch.float64), w]))
        layer.bias.copy_(torch.tensor([0.0, -float(w.sum()) * 0.5 - 0.05]))
    model = nn.Sequential(nn.Flatten(), layer).eval()
    images = 0.5 + 0.01 * torch.randn(3, 1, 2, 2, generator=_gen(1), dtype=torch.float64)
    labels = torch.zeros(3, dtype=torch.int64)
    kwargs = {"norm": norm, "steps": 20, "num_targets": 1}
    free = fab(model, images, labels, eps=1.0, **kwargs)  # the run does not depend on eps
    delta = (free - images).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert bool(_broken(model, images, labels, free).all())
    torch.testing.assert_close(fab(model, images, labels, eps=size, **kwargs), free, rtol=0, atol=0)
    below = fab(model, images, labels, eps=size * (1 - 1e-9), **kwargs)
    assert torch.equal(below, images)
    on_edge = robust_accuracy(model, (images, labels), FAB(eps=size, **kwargs), progress=False)
    assert on_edge.robust_correct == 0
