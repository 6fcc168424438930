"""Optional: APGD, APGD-T, FAB-T, Square and the ensemble agree with torchattacks' implementations.

The model is a small tanh MLP labelled by its own predictions (every sample right on
clean images), float32 as torchattacks expects; 400 samples, so 1 point is 4 samples.
"""

import pytest
import torch

from shapebias.attacks import APGD, FAB, Square, auto_attack, robust_accuracy
from tests.attacks._nets import mlp_task

torchattacks = pytest.importorskip("torchattacks")


def _setup():
    model, images, labels = mlp_task(n=400, seed=0, wrong=0)
    return model.float(), images.float(), labels


def _peer_robust(model, attack, images, labels):
    adversarial = attack(images, labels)
    with torch.no_grad():
        return float((model(adversarial).argmax(1) == labels).float().mean())


def _ours(model, images, labels, attack):
    return robust_accuracy(model, (images, labels), attack, progress=False).robust


@pytest.mark.parametrize("norm,eps", [("linf", 0.03), ("l2", 0.18)])
def test_apgd_ce_within_one_point(norm, eps):
    model, images, labels = _setup()
    attack = APGD(eps=eps, norm=norm, steps=20, generator=torch.Generator().manual_seed(0))
    ours = _ours(model, images, labels, attack)
    peer = torchattacks.APGD(model, norm="Linf" if norm == "linf" else "L2", eps=eps, steps=20)
    assert abs(ours - _peer_robust(model, peer, images, labels)) <= 0.01
    assert 0.2 < ours < 0.9  # a regime where the attacks can disagree


def test_apgd_t_within_one_point():
    model, images, labels = _setup()
    attack = APGD(eps=0.03, steps=20, loss="dlr", targeted=True, num_targets=4,
                  generator=torch.Generator().manual_seed(0))  # fmt: skip
    peer = torchattacks.APGDT(model, eps=0.03, steps=20, n_classes=5)
    assert (
        abs(_ours(model, images, labels, attack) - _peer_robust(model, peer, images, labels))
        <= 0.01
    )


@pytest.mark.parametrize("norm,eps", [("linf", 0.03), ("l2", 0.18)])
def test_fab_t_within_one_point(norm, eps):
    model, images, labels = _setup()
    ours = _ours(model, images, labels, FAB(eps=eps, norm=norm, steps=10, num_targets=4))
    peer = torchattacks.FAB(model, norm="Linf" if norm == "linf" else "L2", eps=eps, steps=10,
                            multi_targeted=True, n_classes=5)  # fmt: skip
    assert abs(ours - _peer_robust(model, peer, images, labels)) <= 0.01
    assert 0.2 < ours < 0.9


def test_square_agrees_within_random_search_noise():
    """Square is a random search, so two implementations differ by sampling noise (up
    to 3 points measured on 16x16 images, 400 samples), and torchattacks never puts a
    window on the last row or column: on these 6x6 images its 5x5 windows sit at the
    corner only, and it is about 11 points weaker. Ours must not be the weaker one."""
    model, images, labels = _setup()
    attack = Square(eps=0.06, queries=300, generator=torch.Generator().manual_seed(0))
    ours = _ours(model, images, labels, attack)
    peer = _peer_robust(model, torchattacks.Square(model, eps=0.06, n_queries=300), images, labels)
    assert ours <= peer + 0.01 and peer - ours <= 0.12


def test_ensemble_within_one_point_of_torchattacks_autoattack():
    model, images, labels = _setup()
    images, labels = images[:200], labels[:200]
    ours = auto_attack(model, (images, labels), eps=0.03, steps=10, num_targets=4, queries=200,
                       generator=torch.Generator().manual_seed(0), progress=False)  # fmt: skip
    assert ours.attacks == ("APGD-CE", "APGD-T", "FAB-T", "Square")  # torchattacks' four
    peer = torchattacks.AutoAttack(model, eps=0.03, n_classes=5, seed=0)  # 10 steps each
    peer._autoattack.attacks[3].n_queries = 200  # the same Square budget
    assert abs(ours.robust - _peer_robust(model, peer, images, labels)) <= 0.01
