"""Every attack that drops samples refuses a StackedModels, through every entry point.

A stack sends images ``[s * N, (s + 1) * N)`` to member ``s``. APGD and Square let a
sample leave the batch at its first misclassifying iterate, FAB's later targets and
restarts attack only the samples still standing, and ``robust_accuracy`` (so
``auto_attack`` and ``robustness_curve``) attacks only the correctly classified ones:
on a stack the images left reach the wrong member and robust accuracy comes out
silently wrong (0.25 where the members give 0.5, in the reliability sweep). Each must
refuse with the documented ValueError before any work, leaving the caller's tensors,
the stack's mode and its gradients alone; the fix it names (attack each member of
``stack.unstack()``) must run.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.attacks import (
    APGD,
    FAB,
    PGD,
    Square,
    apgd,
    auto_attack,
    fab,
    robust_accuracy,
    robustness_curve,
    square,
)
from shapebias.models import StackedModels, small_cnn

S, N, K = 2, 2, 4


def _members() -> list[nn.Module]:
    members = []
    for seed in range(S):
        torch.manual_seed(seed)
        members.append(small_cnn(K, width=4, depth=2).eval())
    return members


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(S * N, 3, 8, 8, generator=generator)
    return images, torch.randint(0, K, (S * N,), generator=generator)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


EPS = 8 / 255
# name -> (the public function named in the message, a call on (model, images, labels))
CALLS = {
    "apgd": ("apgd", lambda m, x, y: apgd(m, x, y, eps=EPS, steps=2, generator=_gen())),
    "APGD-T": (
        "apgd",
        lambda m, x, y: APGD(eps=EPS, steps=2, loss="dlr", targeted=True, num_targets=2)(m, x, y),
    ),
    "fab": ("fab", lambda m, x, y: fab(m, x, y, eps=EPS, steps=2, num_targets=2)),
    "FAB untargeted": ("fab", lambda m, x, y: FAB(eps=EPS, steps=2, targeted=False)(m, x, y)),
    "square": ("square", lambda m, x, y: square(m, x, y, eps=EPS, queries=3, generator=_gen())),
    "Square": ("square", lambda m, x, y: Square(eps=EPS, queries=3)(m, x, y)),
    "robust_accuracy APGD": (
        "robust_accuracy",
        lambda m, x, y: robust_accuracy(m, (x, y), APGD(eps=EPS, steps=2), progress=False),
    ),
    "robust_accuracy FAB": (
        "robust_accuracy",
        lambda m, x, y: robust_accuracy(m, (x, y), FAB(eps=EPS, steps=2, num_targets=2)),
    ),
    "robust_accuracy Square": (
        "robust_accuracy",
        lambda m, x, y: robust_accuracy(m, (x, y), Square(eps=EPS, queries=3), progress=False),
    ),
    "robust_accuracy PGD": (
        "robust_accuracy",
        lambda m, x, y: robust_accuracy(m, (x, y), PGD(eps=EPS, steps=2), progress=False),
    ),
    "robust_accuracy callable": (
        "robust_accuracy",
        lambda m, x, y: robust_accuracy(m, (x, y), lambda mm, xx, yy: xx, progress=False),
    ),
    "auto_attack": (
        "robust_accuracy",
        lambda m, x, y: auto_attack(
            m, (x, y), eps=EPS, steps=2, num_targets=2, queries=3, progress=False
        ),
    ),
    "robustness_curve": (
        "robust_accuracy",
        lambda m, x, y: robustness_curve(
            m, (x, y), [EPS], version="fast", steps=2, num_targets=2, progress=False
        ),
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("wrap", [False, True], ids=["stack", "stack inside a Sequential"])
def test_attacks_that_drop_samples_refuse_a_stack(name, wrap):
    user, call = CALLS[name]
    stack = StackedModels(_members()).eval()
    model = nn.Sequential(stack) if wrap else stack
    forwards = []
    model.register_forward_hook(lambda *_: forwards.append(1))
    images, labels = _batch()
    before = images.clone(), labels.clone()
    with pytest.raises(
        ValueError,
        match=rf"^{user} cannot take a StackedModels as model: it drops samples from the batch",
    ) as error:
        call(model, images, labels)
    assert "Attack each member of stack.unstack() instead" in str(error.value)
    assert forwards == []  # refused before any work
    assert torch.equal(images, before[0]) and torch.equal(labels, before[1])
    assert not images.requires_grad
    assert not stack.training and all(p.grad is None for p in stack.parameters())


@pytest.mark.parametrize("name", list(CALLS))
def test_the_named_fix_runs_on_each_member(name):
    _, call = CALLS[name]
    images, labels = _batch()
    members = StackedModels(_members()).eval().unstack()
    for member, x, y in zip(members, images.chunk(S), labels.chunk(S), strict=True):
        call(member, x, y)  # no error: the refusal is about stacks only


def test_fit_refuses_an_eval_attack_for_a_stack_before_training():
    """fit's evaluation runs robust_accuracy: refused up front, not after an epoch."""
    from shapebias.models import StackedLoader
    from shapebias.training import StandardLoss, fit

    stack = StackedModels(_members())
    weights = {k: v.clone() for k, v in stack.state_dict().items()}
    images, labels = _batch()
    loader = StackedLoader([[(images[:N], labels[:N])]] * S)
    optimizer = torch.optim.SGD(stack.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"eval_attack must be None for a StackedModels"):
        fit(stack, loader, loss=StandardLoss(), optimizer=optimizer, epochs=1,
            eval_data=loader, eval_attack=PGD(eps=EPS, steps=1), progress=False)  # fmt: skip
    assert all(torch.equal(v, stack.state_dict()[k]) for k, v in weights.items())
