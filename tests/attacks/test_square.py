import copy
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.attacks import Square, square, square_size
from shapebias.attacks._square import _l2_pattern
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn
from tests.attacks._reference_autoattack import reference_l2_pattern, reference_p, reference_square


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


class _NoGradients(torch.nn.Module):
    """Refuses any call that could build a graph: a black-box attack must never need one."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        if torch.is_grad_enabled() or x.requires_grad:
            raise AssertionError("Square asked for gradients")
        return self.model(x)


def test_square_size_schedule_hand_computed():
    # 32 x 32, p_init 0.8, 5000 queries: iterations rescale by 2 (10 000 / 5000).
    assert square_size(0, 5000, 0.8, 32, 32) == round(math.sqrt(0.8 * 1024)) == 29
    assert square_size(5, 5000, 0.8, 32, 32) == 29  # rescaled 10: not yet past 10
    assert square_size(6, 5000, 0.8, 32, 32) == round(math.sqrt(0.4 * 1024)) == 20
    assert square_size(26, 5000, 0.8, 32, 32) == round(math.sqrt(0.2 * 1024)) == 14
    assert square_size(4999, 5000, 0.8, 32, 32) == 1
    assert square_size(0, 5000, 1.0, 4, 9) == 4  # never wider than the image


@given(iteration=st.integers(0, 9999), queries=st.integers(1, 10000), p=st.floats(0.01, 1.0))
def test_square_size_matches_the_literal_schedule(iteration, queries, p):
    expected = min(max(round(math.sqrt(reference_p(iteration, queries, p) * 1024)), 1), 32)
    assert square_size(iteration, queries, p, 32, 32) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 11])
def test_l2_pattern_matches_the_papers_rectangle_loop(size):
    expected = reference_l2_pattern(size)
    torch.testing.assert_close(_l2_pattern(size, torch.zeros(1, dtype=torch.float64)), expected)


@pytest.mark.parametrize("norm,eps", [("linf", 16 / 255), ("l2", 2.0)])
def test_matches_literal_random_search(norm, eps):
    model = linear_model(num_classes=4, channels=3, size=10).double()
    images = seeded_images(6, size=10).double()
    with torch.no_grad():
        labels = model(images).argmax(1)
    adv = square(model, images, labels, eps=eps, norm=norm, queries=60, generator=_gen(1))
    expected, fooled = reference_square(
        model, images, labels, eps=eps, norm=norm, queries=60, p_init=0.8, generator=_gen(1)
    )
    torch.testing.assert_close(adv, expected, atol=1e-10, rtol=0)
    with torch.no_grad():
        assert torch.equal(model(adv).argmax(1) != labels, fooled)
    assert 0 < int(fooled.sum()) < 6


@given(
    norm=st.sampled_from(["linf", "l2"]),
    eps=st.floats(0.0, 0.5),
    queries=st.integers(1, 30),
    seed=st.integers(0, 2**31),
)
def test_output_in_ball_in_range_and_never_asks_for_gradients(norm, eps, queries, seed):
    model = _NoGradients(tiny_cnn())
    images, labels = seeded_images(4, seed=seed % 97), seeded_labels(4, seed=seed % 89)
    adv = square(model, images, labels, eps=eps, norm=norm, queries=queries, generator=_gen(seed))
    assert adv.shape == images.shape and adv.dtype == images.dtype and not adv.requires_grad
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    delta = (adv - images).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert bool((size <= eps + 1e-6).all())


def test_queries_bound_the_model_calls_and_more_queries_never_hurt():
    calls = []
    model = linear_model(num_classes=3, channels=1, size=6)

    def counted(x):
        calls.append(x.shape[0])
        return model(x)

    images = seeded_images(8, channels=1, size=6)
    labels = model(images).argmax(1)
    square(counted, images, labels, eps=0.05, queries=25, generator=_gen())
    assert len(calls) <= 25 and max(calls) <= 8
    fooled = []
    for queries in (5, 50, 400):
        adv = square(model, images, labels, eps=0.15, queries=queries, generator=_gen(3))
        fooled.append(int((model(adv).argmax(1) != labels).sum()))
    assert fooled == sorted(fooled) and fooled[-1] > fooled[0]


def test_caller_state_untouched_determinism_and_twin():
    model = tiny_cnn()
    images, labels = seeded_images(), seeded_labels()
    before = images.clone()
    state = copy.deepcopy(model.state_dict())
    first = square(model, images, labels, eps=8 / 255, queries=15, generator=_gen(2))
    assert torch.equal(images, before)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters()) and not model.training
    assert torch.equal(
        first, square(model, images, labels, eps=8 / 255, queries=15, generator=_gen(2))
    )
    assert torch.equal(
        first, Square(eps=8 / 255, queries=15, generator=_gen(2))(model, images, labels)
    )


def test_per_sample_eps():
    model, images, labels = tiny_cnn(), seeded_images(3), seeded_labels(3)
    eps = torch.tensor([0.0, 2 / 255, 16 / 255])
    adv = square(model, images, labels, eps=eps, queries=10, generator=_gen())
    size = (adv - images).flatten(1).abs().amax(1)
    assert float(size[0]) == 0.0 and bool((size <= eps + 1e-6).all()) and float(size[2]) > 2 / 255
