import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.attacks import APGD, apgd, apgd_checkpoints
from shapebias.attacks._apgd import _settings, run_apgd
from shapebias.attacks._threat import random_start
from shapebias.models import TrainModeWarning
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn
from tests.attacks._reference_autoattack import reference_apgd

# Hand-computed for N = 30: first period int(0.22 * 30) = 6, shrinking by max(int(0.9), 1) = 1
# per checkpoint down to max(int(1.8), 1) = 1.
CHECKPOINTS_30 = [6, 11, 15, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_checkpoints_hand_computed():
    assert apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd_checkpoints(30) == CHECKPOINTS_30
    assert apgd_checkpoints(10) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert apgd_checkpoints(1) == [1]
    assert apgd_checkpoints(0) == []


def test_checkpoints_follow_the_papers_recursion_at_100_steps():
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    assert apgd_checkpoints(100) == [math.ceil(round(q * 100, 9)) for q in p[1:]]


def _starts(images, eps, norm, seed, count):
    gen = _gen(seed)
    eps_t = torch.full((images.shape[0], 1, 1, 1), eps, dtype=images.dtype)
    return [random_start(images, eps_t, norm, gen) for _ in range(count)]


@pytest.mark.parametrize(
    "norm,eps,loss,rho",
    [
        ("linf", 2 / 255, "ce", 0.75),
        ("linf", 3 / 255, "dlr", 0.75),
        ("l2", 0.15, "ce", 0.75),
        ("linf", 8 / 255, "ce", 0.05),  # condition 1 rarely fires: condition 2 acts
    ],
)
def test_untargeted_matches_literal_algorithm_1(norm, eps, loss, rho):
    model = tiny_cnn(num_classes=5).double()
    images = seeded_images(6).double()
    with torch.no_grad():
        labels = model(images).argmax(1)  # all correct: none leaves at the start
    adv = apgd(
        model, images, labels, eps=eps, norm=norm, steps=30, loss=loss, rho=rho, generator=_gen(2)
    )
    (start,) = _starts(images, eps, norm, 2, 1)
    fooled = []
    for i in range(6):
        x, broke, _ = reference_apgd(
            model, images[i], labels[i], start[i], eps=eps, steps=30, norm=norm, loss=loss,
            checkpoints=CHECKPOINTS_30, rho=rho,
        )  # fmt: skip
        torch.testing.assert_close(adv[i], x, atol=1e-10, rtol=0)
        fooled.append(broke)
    assert 0 < sum(fooled) < 6  # both branches (early exit and x_max) are compared


def test_targeted_matches_literal_algorithm_over_targets_and_restarts():
    model = tiny_cnn(num_classes=5).double()
    images, labels = seeded_images(5).double(), seeded_labels(5, num_classes=5)
    eps, kwargs = 2 / 255, {"steps": 30, "loss": "dlr", "norm": "linf"}
    adv = apgd(
        model, images, labels, eps=eps, targeted=True, num_targets=3, restarts=2,
        generator=_gen(4), **kwargs,
    )  # fmt: skip
    starts = _starts(images, eps, "linf", 4, 6)
    with torch.no_grad():
        ranked = (
            model(images).scatter(1, labels[:, None], float("-inf")).argsort(1, descending=True)
        )
    broken = 0
    for i in range(5):
        best = None
        for run in range(6):
            target = ranked[i, run // 2]
            x, fooled, value = reference_apgd(
                model, images[i], labels[i], starts[run][i], eps=eps, checkpoints=CHECKPOINTS_30,
                target=target, **kwargs,
            )  # fmt: skip
            if best is None or (fooled, value) > (best[1], best[2]):
                best = (x, fooled, value)
            if fooled:
                break
        torch.testing.assert_close(adv[i], best[0], atol=1e-10, rtol=0)
        broken += best[1]
    assert 0 < broken < 5


def test_linear_model_run_ends_at_the_box_corner():
    """On a linear model the CE is maximised at the corner ``x + eps * sign(grad)``: the
    first 2-eps sign step lands there (after projection) and x_max never moves."""
    model = linear_model(num_classes=3, channels=1, size=4).double()
    images = torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64)
    labels = model(images).argmax(1)
    eps = 1e-3  # far too small to fool: the run goes to the end and returns x_max
    adv = apgd(model, images, labels, eps=eps, steps=30, generator=_gen(0))
    direction = torch.autograd.functional.jacobian(
        lambda x: torch.nn.functional.cross_entropy(model(x), labels), images
    )
    torch.testing.assert_close(adv, images + eps * direction.sign(), atol=1e-12, rtol=0)


@given(
    norm=st.sampled_from(["linf", "l2"]),
    eps=st.floats(0.0, 0.3),
    steps=st.integers(0, 6),
    seed=st.integers(0, 2**31),
    loss=st.sampled_from(["ce", "dlr"]),
    targeted=st.booleans(),
)
def test_output_detached_in_range_and_in_ball(norm, eps, steps, seed, loss, targeted):
    model = tiny_cnn(num_classes=5)
    images, labels = seeded_images(5, seed=seed % 97), seeded_labels(5, 5, seed=seed % 89)
    adv = apgd(
        model, images, labels, eps=eps, norm=norm, steps=steps, loss=loss, targeted=targeted,
        num_targets=2, generator=_gen(seed),
    )  # fmt: skip
    assert not adv.requires_grad and adv.grad_fn is None
    assert adv.shape == images.shape and adv.dtype == images.dtype
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    delta = (adv - images).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert bool((size <= eps + 1e-6).all())


def test_per_sample_eps_and_determinism():
    model, images, labels = tiny_cnn(), seeded_images(3), seeded_labels(3)
    eps = torch.tensor([0.0, 2 / 255, 16 / 255])
    adv = apgd(model, images, labels, eps=eps, steps=5, generator=_gen(1))
    size = (adv - images).flatten(1).abs().amax(1)
    assert float(size[0]) == 0.0 and bool((size <= eps + 1e-6).all())
    assert torch.equal(adv, apgd(model, images, labels, eps=eps, steps=5, generator=_gen(1)))
    assert not torch.equal(adv, apgd(model, images, labels, eps=eps, steps=5, generator=_gen(2)))


def test_works_under_outer_no_grad_and_class_equals_function():
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    expected = apgd(model, images, labels, eps=0.3, norm="l2", steps=4, generator=_gen(1))
    with torch.no_grad():
        inside = apgd(model, images, labels, eps=0.3, norm="l2", steps=4, generator=_gen(1))
    twin = APGD(eps=0.3, norm="l2", steps=4, generator=_gen(1))(model, images, labels)
    assert torch.equal(inside, expected) and torch.equal(twin, expected)
    assert not torch.equal(expected, images)


def test_active_samples_get_the_same_result_as_in_the_full_batch():
    model = tiny_cnn(num_classes=5).double()
    images, labels = seeded_images(8).double(), seeded_labels(8, num_classes=5)
    kwargs = {"eps": 3 / 255, "norm": "linf", "steps": 8, "loss": "ce", "targeted": True,
              "num_targets": 2, "restarts": 2, "rho": 0.75}  # fmt: skip
    full = run_apgd(model, images, labels, _settings(model, images, labels, **kwargs,
                    generator=_gen(3)))  # fmt: skip
    active = torch.tensor([True, False, True, True, False, True, False, True])
    part = run_apgd(model, images, labels, _settings(model, images, labels, **kwargs,
                    generator=_gen(3)), active=active)  # fmt: skip
    assert torch.equal(part.fooled, full.fooled & active)
    torch.testing.assert_close(
        part.adversarial[active], full.adversarial[active], atol=1e-12, rtol=0
    )
    assert torch.equal(part.adversarial[~active], images[~active])


def test_apgd_breaks_a_linear_model_and_beats_its_start():
    model = linear_model(num_classes=4, channels=1, size=4)
    images = seeded_images(16, channels=1, size=4)
    labels = model(images).argmax(1)
    for loss, targeted in (("ce", False), ("dlr", False), ("dlr", True)):
        adv = apgd(model, images, labels, eps=0.5, steps=20, loss=loss, targeted=targeted,
                   num_targets=3, generator=_gen())  # fmt: skip
        assert bool((model(adv).argmax(1) != labels).all()), (loss, targeted)


def test_train_mode_warning():
    with pytest.warns(TrainModeWarning):
        apgd(tiny_cnn().train(), seeded_images(), seeded_labels(), eps=0.01, steps=1)
