"""The public faces of PGD's loop: ``projected_ascent`` (any objective, any start) and
``PGD.fooled`` (which samples one run fools, on a subset of the batch)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shapebias.attacks import PGD, pgd, projected_ascent
from tests._models import seeded_images, seeded_labels, tiny_cnn

EPS = 8 / 255


def _ce(labels: torch.Tensor):
    return lambda logits, step: F.cross_entropy(logits, labels, reduction="none")


@pytest.mark.parametrize(("norm", "eps", "band"), [("linf", EPS, None), ("l2", 0.5, None),
                                                   ("l2", 0.5, (0.0, 2.0))])  # fmt: skip
def test_on_the_cross_entropy_it_is_pgd_without_a_random_start(norm, eps, band):
    """Same loop, same default step ``2.5 * eps / steps``: bit for bit equal."""
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    expected = pgd(model, images, labels, eps=eps, steps=4, norm=norm, random_start=False,
                   band=band)  # fmt: skip
    result = projected_ascent(model, images, images, _ce(labels), eps=eps, steps=4, norm=norm,
                              band=band)  # fmt: skip
    assert torch.equal(result, expected)
    assert not torch.equal(result, images)  # it moved


def test_a_start_outside_the_ball_and_range_ends_inside_both():
    model, clean, labels = tiny_cnn(), seeded_images(), seeded_labels()
    start = clean + 0.5 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    eps = torch.tensor([1, 2, 4, 8]) / 255
    result = projected_ascent(model, start, clean, _ce(labels), eps=eps, steps=1)
    assert ((result - clean).abs().amax((1, 2, 3)) <= eps + 1e-7).all()
    assert result.min() >= 0 and result.max() <= 1
    unmoved = projected_ascent(model, start, clean, _ce(labels), eps=eps, steps=0)
    assert torch.equal(unmoved, start) and not unmoved.requires_grad


def test_it_ascends_the_given_objective_and_leaves_the_model_as_it_was():
    """Ascending the objective of the step count: the loop passes ``step`` through, and
    the objective at the result exceeds the clean one (a sign error would descend)."""
    model, clean, labels = tiny_cnn(), seeded_images(), seeded_labels()
    steps_seen = []

    def objective(logits: torch.Tensor, step: int) -> torch.Tensor:
        steps_seen.append(step)
        return -F.cross_entropy(logits, labels, reduction="none")  # make it right

    with torch.no_grad():
        before = -F.cross_entropy(model(clean), labels, reduction="none")
    result = projected_ascent(model, clean, clean, objective, eps=16 / 255, steps=5)
    with torch.no_grad():
        after = -F.cross_entropy(model(result), labels, reduction="none")
    assert steps_seen == [0, 1, 2, 3, 4]
    assert (after > before).all()
    assert not model.training and all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"objective": "ce"}, TypeError, "objective must be callable"),
        ({"objective": lambda logits, step: logits.sum()}, ValueError,
         r"objective must return one floating value per image, shape \(4,\)"),
        ({"start": seeded_images(3)}, ValueError, r"start must match clean: shape \(4, 3, 8, 8\)"),
        ({"start": seeded_images().double()}, ValueError, "start must match clean"),
        ({"clean": seeded_images() * 2}, ValueError, r"clean must lie in \[0, 1\]"),
        ({"norm": "l1"}, ValueError, "norm must be one of"),
        ({"eps": 8}, ValueError, "8/255"),
        ({"steps": -1}, ValueError, "steps"),
        ({"model": "resnet"}, TypeError, "model must be"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(change, error, match):
    images, labels = seeded_images(), seeded_labels()
    arguments = {"model": tiny_cnn(), "start": images, "clean": images,
                 "objective": _ce(labels), "eps": EPS, "steps": 2}  # fmt: skip
    arguments.update(change)
    with pytest.raises(error, match=match):
        projected_ascent(
            arguments.pop("model"), arguments.pop("start"), arguments.pop("clean"),
            arguments.pop("objective"), **arguments,
        )  # fmt: skip


def test_a_model_cut_from_its_input_gets_the_attacks_clear_error():
    class Cut(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = tiny_cnn()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x.detach())

    images, labels = seeded_images(), seeded_labels()
    with pytest.raises(ValueError, match=r"^model must compute its logits.*Square attack\.$"):
        projected_ascent(Cut().eval(), images, images, _ce(labels), eps=EPS, steps=1)


# PGD.fooled ------------------------------------------------------------------------------


def test_fooled_is_what_the_returned_images_are_classified_as():
    model, images, labels = tiny_cnn(), seeded_images(8), seeded_labels(8)
    attack = PGD(eps=32 / 255, steps=4, generator=torch.Generator().manual_seed(0))
    fooled = attack.fooled(model, images, labels)
    adversarial = PGD(eps=32 / 255, steps=4, generator=torch.Generator().manual_seed(0))(
        model, images, labels
    )
    with torch.no_grad():
        expected = model(adversarial).argmax(1) != labels
    assert torch.equal(fooled, expected)
    assert 0 < int(fooled.sum()) < 8  # the comparison discriminates


class _Counting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_cnn()
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        return self.net(x)


@pytest.mark.parametrize("early_stop", [False, True])
def test_fooled_attacks_only_the_active_samples(early_stop):
    model, images, labels = _Counting().eval(), seeded_images(8), seeded_labels(8)
    active = torch.tensor([True, False] * 4)
    attack = PGD(eps=1.0, steps=3, early_stop=early_stop)
    fooled = attack.fooled(model, images, labels, active=active)
    assert not fooled[~active].any() and fooled[active].any()
    assert max(model.batches) <= 4  # the inactive samples never reached the model


@pytest.mark.parametrize(
    ("active", "error", "match"),
    [
        (torch.ones(8, dtype=torch.int64), TypeError, r"must be a bool tensor of shape \(8,\)"),
        ([True] * 8, TypeError, "active must be a bool tensor"),
        (torch.ones(7, dtype=torch.bool), ValueError, r"active must have shape \(8,\)"),
    ],
)  # fmt: skip
def test_fooled_refuses_a_bad_mask(active, error, match):
    with pytest.raises(error, match=match):
        PGD(eps=EPS, steps=1).fooled(tiny_cnn(), seeded_images(8), seeded_labels(8), active=active)
