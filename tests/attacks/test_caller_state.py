"""Every attack leaves the caller's tensors, model modes, flags, weights and grads alone.

One parametrised test for all the library's attacks (it was repeated in test_pgd and
test_apgd; fgsm had none). The model is in training mode with its BatchNorm in eval mode
(a flag that differs from its parent's, which an attack switching to eval and back with
a blanket ``model.train()`` would lose), one parameter is frozen and the images do not
require grad. Everything must be exactly as before and no parameter may keep a
``.grad``. (A model wholly in training mode is attacked as it is, with a
TrainModeWarning, and its BatchNorm statistics move: the library never switches modes
silently.)
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from shapebias.attacks import apgd, fab, fgsm, pgd, square
from shapebias.models import TrainModeWarning
from tests._models import seeded_images, seeded_labels, tiny_cnn


def _gen():
    return torch.Generator().manual_seed(0)


ATTACKS = {
    "fgsm": lambda m, x, y: fgsm(m, x, y, eps=8 / 255),
    "pgd": lambda m, x, y: pgd(m, x, y, eps=8 / 255, generator=_gen()),
    "apgd (dlr, targeted)": lambda m, x, y: apgd(
        m, x, y, eps=8 / 255, steps=4, loss="dlr", targeted=True, num_targets=2, generator=_gen()
    ),
    "square": lambda m, x, y: square(m, x, y, eps=8 / 255, queries=10, generator=_gen()),
    "fab (targeted, restarts)": lambda m, x, y: fab(
        m, x, y, eps=0.5, steps=4, num_targets=2, restarts=2, generator=_gen()
    ),
    "fab (untargeted, l2)": lambda m, x, y: fab(
        m, x, y, eps=3.0, norm="l2", steps=4, targeted=False
    ),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_caller_state_untouched_and_no_parameter_grad(name):
    model = tiny_cnn(num_classes=5)
    model.train()
    model[1].eval()  # a submodule whose flag differs from its parent's
    images, labels = seeded_images(), seeded_labels(num_classes=5)
    before = images.clone(), labels.clone()
    flags = [m.training for m in model.modules()]
    model[0].weight.requires_grad_(False)
    grads = [p.requires_grad for p in model.parameters()]
    state = copy.deepcopy(model.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainModeWarning)
        adversarial = ATTACKS[name](model, images, labels)
    assert not torch.equal(adversarial, images)  # the attack ran and moved the images
    assert torch.equal(images, before[0]) and torch.equal(labels, before[1])
    assert [m.training for m in model.modules()] == flags
    assert [p.requires_grad for p in model.parameters()] == grads
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert not images.requires_grad
