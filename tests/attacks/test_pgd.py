import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from shapebias.attacks import PGD, pgd
from shapebias.models import TrainModeWarning
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn
from tests.attacks._reference import reference_pgd


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _inside_ball(adv, images, eps, norm):
    delta = (adv - images).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    return bool((size <= eps + 1e-6).all())


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_matches_literal_reference(norm, eps):
    model = tiny_cnn().double()
    images, labels = seeded_images(3).double(), seeded_labels(3)
    step = 2.5 * eps / 5
    fast = pgd(model, images, labels, eps=eps, steps=5, norm=norm, random_start=False)
    slow = reference_pgd(model, images, labels, eps=eps, steps=5, step_size=step, norm=norm)
    torch.testing.assert_close(fast, slow, atol=1e-10, rtol=0)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_targeted_matches_reference_and_reaches_target(norm):
    model = linear_model(num_classes=3, channels=1, size=4).double()
    images = seeded_images(8, channels=1, size=4).double()
    targets = (model(images).argmax(1) + 1) % 3
    eps = 1.0 if norm == "linf" else 4.0
    adv = pgd(
        model,
        images,
        targets,
        eps=eps,
        steps=40,
        step_size=0.05,
        norm=norm,
        targeted=True,
        random_start=False,
    )
    slow = reference_pgd(
        model, images, targets, eps=eps, steps=40, step_size=0.05, norm=norm, targeted=True
    )
    torch.testing.assert_close(adv, slow, atol=1e-10, rtol=0)
    assert torch.equal(model(adv).argmax(1), targets)


@given(
    norm=st.sampled_from(["linf", "l2"]),
    eps=st.floats(0.0, 0.3),
    steps=st.integers(0, 4),
    seed=st.integers(0, 2**31),
    random_start=st.booleans(),
    loss=st.sampled_from(["ce", "margin"]),
)
def test_output_detached_in_range_and_in_ball(norm, eps, steps, seed, random_start, loss):
    model = tiny_cnn()
    images, labels = seeded_images(5, seed=seed % 97), seeded_labels(5, seed=seed % 89)
    adv = pgd(
        model,
        images,
        labels,
        eps=eps,
        steps=steps,
        norm=norm,
        loss=loss,
        random_start=random_start,
        generator=_gen(seed),
    )
    assert not adv.requires_grad and adv.grad_fn is None
    assert adv.shape == images.shape and adv.dtype == images.dtype
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert _inside_ball(adv, images, eps, norm)


def test_per_sample_eps_tensor():
    model = tiny_cnn()
    images, labels = seeded_images(3), seeded_labels(3)
    eps = torch.tensor([0.0, 2 / 255, 16 / 255])
    adv = pgd(model, images, labels, eps=eps, generator=_gen())
    size = (adv - images).flatten(1).abs().amax(1)
    assert float(size[0]) == 0.0
    assert bool((size <= eps + 1e-6).all()) and float(size[2]) > 2 / 255


def test_eps_zero_returns_the_images():
    images, labels = seeded_images(), seeded_labels()
    assert torch.equal(pgd(tiny_cnn(), images, labels, eps=0.0, generator=_gen()), images)


def test_l2_projection_keeps_short_perturbations():
    model = tiny_cnn()
    images, labels = seeded_images(4), seeded_labels(4)
    adv = pgd(
        model,
        images,
        labels,
        eps=10.0 / 255 * 100,
        steps=1,
        step_size=0.01,
        norm="l2",
        random_start=False,
    )
    assert (adv - images).flatten(1).norm(dim=1).max() == pytest.approx(0.01, abs=1e-5)


def test_works_under_outer_no_grad():
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    expected = pgd(model, images, labels, eps=8 / 255, generator=_gen())
    with torch.no_grad():
        adv = pgd(model, images, labels, eps=8 / 255, generator=_gen())
    assert torch.equal(adv, expected)
    assert not torch.equal(adv, images)


def test_same_generator_state_gives_identical_output():
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    first = pgd(model, images, labels, eps=8 / 255, restarts=2, generator=_gen(3))
    second = pgd(model, images, labels, eps=8 / 255, restarts=2, generator=_gen(3))
    other = pgd(model, images, labels, eps=8 / 255, restarts=2, generator=_gen(4))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_sample_alone_equals_sample_in_batch():
    model = tiny_cnn().double()
    images, labels = seeded_images(6).double(), seeded_labels(6)
    batch = pgd(model, images, labels, eps=8 / 255, random_start=False)
    for i in range(6):
        alone = pgd(model, images[i : i + 1], labels[i : i + 1], eps=8 / 255, random_start=False)
        torch.testing.assert_close(alone, batch[i : i + 1], atol=1e-12, rtol=0)


def test_train_mode_model_gets_one_warning():
    model = tiny_cnn().train()
    with pytest.warns(TrainModeWarning, match="training mode") as record:
        pgd(model, seeded_images(), seeded_labels(), eps=8 / 255, generator=_gen())
    assert len([w for w in record if w.category is TrainModeWarning]) == 1
    assert model.training


def test_no_warning_for_train_mode_model_without_bn_or_dropout():
    model = tiny_cnn(batchnorm=False).train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pgd(model, seeded_images(), seeded_labels(), eps=8 / 255, generator=_gen())


def test_restarts_keep_the_most_successful_result():
    model = tiny_cnn()
    images, labels = seeded_images(8), seeded_labels(8)
    single = [pgd(model, images, labels, eps=4 / 255, steps=2, generator=_gen(s)) for s in (5,)]
    gen = _gen(5)
    runs = [pgd(model, images, labels, eps=4 / 255, steps=2, generator=gen) for _ in range(3)]
    best = pgd(model, images, labels, eps=4 / 255, steps=2, restarts=3, generator=_gen(5))
    assert torch.equal(runs[0], single[0])
    loss = nn.CrossEntropyLoss(reduction="none")
    with torch.no_grad():
        losses = torch.stack([loss(model(r), labels) for r in runs])
        fooled = torch.stack([model(r).argmax(1) != labels for r in runs])
        best_loss = loss(model(best), labels)
        best_fooled = model(best).argmax(1) != labels
    assert torch.equal(best_fooled, fooled.any(0))
    unfooled = ~fooled.any(0)
    torch.testing.assert_close(best_loss[unfooled], losses.amax(0)[unfooled])


def test_early_stop_returns_first_fooling_iterate():
    model = linear_model(num_classes=3, channels=1, size=4)
    images, labels = seeded_images(16, channels=1, size=4), seeded_labels(16)
    adv = pgd(
        model,
        images,
        labels,
        eps=0.3,
        steps=20,
        step_size=0.01,
        early_stop=True,
        random_start=False,
    )
    plain = pgd(model, images, labels, eps=0.3, steps=20, step_size=0.01, random_start=False)
    with torch.no_grad():
        fooled_early = model(adv).argmax(1) != labels
        fooled_plain = model(plain).argmax(1) != labels
    assert bool((fooled_early | ~fooled_plain).all())
    moved = (adv - images).flatten(1).abs().amax(1)
    assert bool(
        (
            moved[fooled_early] <= (plain - images).flatten(1).abs().amax(1)[fooled_early] + 1e-6
        ).all()
    )


def test_class_equals_function():
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    attack = PGD(eps=0.4, norm="l2", steps=3, generator=_gen(1))
    assert torch.equal(
        attack(model, images, labels),
        pgd(model, images, labels, eps=0.4, norm="l2", steps=3, generator=_gen(1)),
    )


def test_margin_loss_fools_a_linear_model():
    model = linear_model(num_classes=3, channels=1, size=4)
    images, labels = seeded_images(16, channels=1, size=4), seeded_labels(16)
    labels = model(images).argmax(1)
    adv = pgd(model, images, labels, eps=1.0, steps=30, loss="margin", generator=_gen())
    assert bool((model(adv).argmax(1) != labels).all())


def test_progress_bar_per_restart_changes_nothing(capsys) -> None:
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    settings = {"eps": 8 / 255, "steps": 3, "restarts": 2}
    quiet = pgd(model, images, labels, **settings, generator=torch.Generator().manual_seed(0))
    capsys.readouterr()
    shown = pgd(
        model, images, labels, **settings, progress=True, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(quiet, shown)
    err = capsys.readouterr().err
    # One bar per restart over its 3 steps and the evaluation of the end point: each bar
    # renders "0/4 [" once when it opens; how many refreshes follow depends on tqdm's
    # clock (a loaded machine shows intermediate ones), so they are not counted.
    assert err.count("0/4 [") == 2 and err.count("pgd steps:") >= 2
