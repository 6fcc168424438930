import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.attacks import project_l2, project_linf
from shapebias.attacks._threat import random_start


@given(eps=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_projections_land_in_ball_and_are_idempotent(eps, seed):
    delta = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(seed))
    linf = project_linf(delta, eps)
    l2 = project_l2(delta, eps)
    assert float(linf.abs().max()) <= eps + 1e-7
    assert bool((l2.flatten(1).norm(dim=1) <= eps + 1e-5).all())
    assert torch.equal(project_linf(linf, eps), linf)
    torch.testing.assert_close(project_l2(l2, eps), l2)


def test_l2_projection_leaves_short_perturbations_alone():
    delta = torch.full((2, 1, 2, 2), 0.1)  # norm 0.2
    assert torch.equal(project_l2(delta, 0.5), delta)
    torch.testing.assert_close(
        project_l2(delta, 0.1).flatten(1).norm(dim=1), torch.tensor([0.1, 0.1])
    )


def test_random_start_is_inside_the_ball_and_spread():
    images = torch.zeros(2000, 1, 2, 2)
    eps = torch.full((2000, 1, 1, 1), 0.5)
    generator = torch.Generator().manual_seed(0)
    linf = random_start(images, eps, "linf", generator)
    assert float(linf.abs().max()) <= 0.5
    assert abs(float(linf.mean())) < 0.02 and float(linf.std()) > 0.25
    radius = random_start(images, eps, "l2", generator).flatten(1).norm(dim=1)
    assert float(radius.max()) <= 0.5 + 1e-6
    # Uniform in a 4-dimensional ball: P(r <= eps/2) = (1/2)^4.
    assert abs(float((radius <= 0.25).float().mean()) - 1 / 16) < 0.02
