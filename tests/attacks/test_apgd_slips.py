"""APGD where smooth models hide slips: flat objectives (ties) and starts that matter.

On a smooth network the objective never repeats a value and every start leads to the
same end, so a changed tie rule in the step-size schedule, or restarts that repeat one
random start, leave every result unchanged. The models here are built so they do not.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.attacks import apgd, apgd_checkpoints
from tests.attacks._reference_autoattack import reference_apgd
from tests.attacks.test_apgd import _starts

STEPS = 30


class _Strip(nn.Module):
    """Logit 1 is 1 within ``delta`` of ``c`` in pixel 0 and 0 elsewhere (a flat objective:
    ties at every step off the strip), with a straight-through gradient towards ``c``.
    Logit 0 is 2, so nothing is ever misclassified and APGD returns its ``x_max``: the
    first strip point it reaches, which depends on when the step was halved."""

    def __init__(self, c: float = 0.513, delta: float = 0.002) -> None:
        super().__init__()
        self.c, self.delta = c, delta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.flatten(1)[:, 0]
        pull = -(t - self.c).abs()
        value = ((t - self.c).abs() < self.delta).to(x.dtype) + pull - pull.detach()
        return torch.stack([torch.full_like(value, 2.0), value], 1)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_flat_objective_ties_follow_the_literal_schedule(norm):
    """Slips caught: an equal objective counted as a rise (``>=`` in condition 1), and
    ``x_max`` moved to a later point of equal objective."""
    model, eps = _Strip(), 0.05
    images = torch.full((12, 1, 1, 2), 0.5, dtype=torch.float64)
    labels = torch.zeros(12, dtype=torch.int64)
    generator = torch.Generator().manual_seed(0)
    adv = apgd(model, images, labels, eps=eps, norm=norm, steps=STEPS, generator=generator)
    (start,) = _starts(images, eps, norm, 0, 1)
    checkpoints = apgd_checkpoints(STEPS)
    reached = 0
    for i in range(12):
        x, fooled, _ = reference_apgd(
            model, images[i], labels[i], start[i], eps=eps, steps=STEPS, norm=norm, loss="ce",
            checkpoints=checkpoints,
        )  # fmt: skip
        torch.testing.assert_close(adv[i], x, atol=1e-12, rtol=0)
        assert not fooled
        reached += bool(model(x[None])[0, 1] > 0.5)
    assert 0 < reached < 12  # some runs reach the strip, and when matters


class _Hinge(nn.Module):
    """``f_1 - f_0 = relu(s - 2.04) - 0.01 s - 0.02``, ``s`` the sum of 4 pixels.

    At the clean images (``s = 2``) the gradient points away from the boundary
    (``s ~ 2.08``): APGD from a start with the ReLU off never finds it; from one with
    the ReLU on (about one start in five at ``eps = 0.05``) it breaks the sample. Only
    restarts from new random starts break more samples.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.flatten(1).sum(1)
        diff = torch.relu(s - 2.04) - 0.01 * s - 0.02
        return torch.stack([torch.zeros_like(diff), diff], dim=1)


def test_each_restart_draws_a_new_start():
    """Slip caught: one random start drawn per target and reused by every restart."""
    model = _Hinge()
    images = torch.full((16, 1, 2, 2), 0.5, dtype=torch.float64)
    labels = torch.zeros(16, dtype=torch.int64)
    kwargs = {"eps": 0.05, "steps": 10}
    generator = torch.Generator().manual_seed(1)
    singles = [apgd(model, images, labels, generator=generator, **kwargs) for _ in range(4)]
    with torch.no_grad():
        fooled = torch.stack([model(a).argmax(1) != labels for a in singles])
        both = apgd(model, images, labels, restarts=4, generator=torch.Generator().manual_seed(1),
                    **kwargs)  # fmt: skip
        assert torch.equal(model(both).argmax(1) != labels, fooled.any(0))
    assert 0 < int(fooled[0].sum()) < int(fooled.any(0).sum()) < 16
