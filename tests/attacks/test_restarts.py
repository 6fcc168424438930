"""Restarts keep, per sample, the most successful result: fooled first, then the objective."""

import torch

from shapebias.attacks import apgd, pgd
from shapebias.attacks._pgd import _better, _Outcome
from tests._models import seeded_images, seeded_labels, tiny_cnn


def _outcome(values, fooled, objective):
    adversarial = torch.tensor(values, dtype=torch.float64).view(-1, 1, 1, 1)
    return _Outcome(adversarial, torch.tensor(fooled), torch.tensor(objective, dtype=torch.float64))


def test_fooled_result_beats_a_higher_objective_unfooled_one_in_either_order():
    fooled_low = _outcome([1.0, 1.0], [True, False], [0.1, 5.0])
    unfooled_high = _outcome([2.0, 2.0], [False, True], [9.0, 0.2])
    for best, new in ((fooled_low, unfooled_high), (unfooled_high, fooled_low)):
        kept = _better(best, new)
        # sample 0: fooled at 0.1 (first outcome) wins over unfooled at 9.0; sample 1: the reverse
        assert kept.adversarial.flatten().tolist() == [1.0, 2.0]
        assert kept.fooled.tolist() == [True, True]
        assert kept.objective.tolist() == [0.1, 0.2]


def test_among_equals_the_higher_objective_wins_and_ties_keep_the_first():
    best = _outcome([1.0, 1.0, 1.0], [False, True, False], [1.0, 1.0, 2.0])
    new = _outcome([2.0, 2.0, 2.0], [False, True, False], [3.0, 4.0, 2.0])
    kept = _better(best, new)
    assert kept.adversarial.flatten().tolist() == [2.0, 2.0, 1.0]
    assert kept.objective.tolist() == [3.0, 4.0, 2.0]


def test_pgd_and_apgd_restarts_never_lose_a_fooled_sample():
    model = tiny_cnn(num_classes=5).double()
    images, labels = seeded_images(16).double(), seeded_labels(16, num_classes=5)
    for attack in (pgd, apgd):
        gen = torch.Generator().manual_seed(7)
        singles = [
            attack(model, images, labels, eps=3 / 255, steps=3, generator=gen) for _ in range(3)
        ]
        both = attack(model, images, labels, eps=3 / 255, steps=3, restarts=3,
                      generator=torch.Generator().manual_seed(7))  # fmt: skip
        with torch.no_grad():
            fooled_any = torch.stack([model(a).argmax(1) != labels for a in singles]).any(0)
            assert torch.equal(model(both).argmax(1) != labels, fooled_any)
