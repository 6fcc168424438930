import copy
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from shapebias._spectrum import band_keep, band_project
from shapebias.attacks import PGD, pgd, robust_accuracy
from shapebias.attacks._threat import DYKSTRA_STEPS, project_band
from shapebias.data import sample_images
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn
from tests.frequency._reference import BandFiltered, outside_energy, reference_band_limit

LOW, HIGH = (0, 3), (3, math.inf)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _away_from_bounds(n=6, size=16, seed=0, margin=0.25):
    """Images in [margin, 1 - margin]: the clip to [0, 1] never acts at these budgets."""
    return margin + (1 - 2 * margin) * seeded_images(n, size=size, seed=seed)


def _real(size=32, margin=0.1):
    names = ["astronaut", "chelsea", "brick", "coffee"]
    images = torch.stack(list(sample_images(size, names=names).values()))
    return margin + (1 - 2 * margin) * images  # keep the photographs, leave room for eps


def _ball_size(delta, norm):
    flat = delta.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


CASES = [("linf", 8 / 255, LOW), ("linf", 8 / 255, HIGH), ("l2", 0.5, LOW), ("l2", 0.5, HIGH)]


@pytest.mark.parametrize("norm,eps,band", CASES)
@pytest.mark.parametrize("early_stop", [False, True])
def test_random_images_no_energy_outside_the_band_and_in_the_ball(norm, eps, band, early_stop):
    model, images = tiny_cnn(), _away_from_bounds()
    labels = seeded_labels(6)
    adv = pgd(
        model,
        images,
        labels,
        eps=eps,
        norm=norm,
        band=band,
        early_stop=early_stop,
        generator=_gen(),
    )
    delta = adv - images
    assert outside_energy(delta, *band) < 1e-6
    assert bool((_ball_size(delta, norm) <= eps + 1e-6).all())
    assert float(delta.abs().max()) > 0.1 * (eps if norm == "linf" else eps / 16)  # it moved


@pytest.mark.parametrize("norm,eps,band", CASES)
def test_real_images_no_energy_outside_the_band_and_in_the_ball(norm, eps, band):
    images = _real()
    model = tiny_cnn(num_classes=4)
    labels = torch.arange(4)
    adv = pgd(model, images, labels, eps=eps, norm=norm, band=band, steps=5, generator=_gen())
    delta = adv - images
    assert outside_energy(delta, *band) < 1e-6
    assert bool((_ball_size(delta, norm) <= eps + 1e-6).all())


@pytest.mark.parametrize("norm,eps", [("linf", 0.3), ("l2", 4.0)])
def test_images_at_the_bounds_stay_in_range_and_ball(norm, eps):
    # The clip comes last: the image range and the ball always hold, the band except
    # where the clip moved a pixel (documented).
    images = seeded_images(4, size=16).round()  # every pixel at 0 or 1
    adv = pgd(tiny_cnn(), images, seeded_labels(), eps=eps, norm=norm, band=LOW, generator=_gen())
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    assert bool((_ball_size(adv - images, norm) <= eps + 1e-6).all())


def _reference_dykstra(d, eps, band, rounds):
    """Textbook Dykstra between A = [-eps, eps]^n and the band B, both corrections kept."""
    x, p, q = d.clone(), torch.zeros_like(d), torch.zeros_like(d)
    for _ in range(rounds):
        y = torch.clamp(x + p, -eps, eps)
        p = x + p - y
        x = reference_band_limit((y + q)[None], *band)[0]
        q = y + q - x
    return x


def _reference_band_pgd(model, images, labels, *, eps, steps, step_size, norm, band):
    """Literal band-limited PGD, one image at a time, bands through the numpy DFT.

    g_B = P g; x <- x + a * dir(g_B); d = x - x0; L2: d <- P d, L-inf: d <- P d if that
    lies in the ball, else Dykstra(d);
    d <- d * min(1, eps / ||d||); x <- clip(x0 + d, 0, 1).
    """
    results = []
    for x0, y in zip(images, labels, strict=True):
        x = x0.clone()
        for _ in range(steps):
            x = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(model(x[None]), y[None]), x)
            g = reference_band_limit(g[None], *band)[0]
            x = x.detach()
            if norm == "linf":
                x = x + step_size * torch.sign(g)
                d = reference_band_limit((x - x0)[None], *band)[0]
                if float(d.abs().max()) > eps:  # P d outside the ball: Dykstra
                    d = _reference_dykstra(x - x0, eps, band, DYKSTRA_STEPS)
            else:
                x = x + step_size * g / max(float(g.norm()), 1e-12)
                d = reference_band_limit((x - x0)[None], *band)[0]
            size = float(d.abs().max()) if norm == "linf" else float(d.norm())
            d = d * min(1.0, eps / max(size, 1e-12))
            x = torch.clamp(x0 + d, 0.0, 1.0)
        results.append(x.detach())
    return torch.stack(results)


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.3)])
@pytest.mark.parametrize("band", [(0, 2), (2, math.inf)])
def test_matches_the_literal_reference(norm, eps, band):
    model = tiny_cnn().double()
    images, labels = _away_from_bounds(3, size=8).double(), seeded_labels(3)
    fast = pgd(model, images, labels, eps=eps, steps=5, norm=norm, band=band, random_start=False)
    slow = _reference_band_pgd(
        model, images, labels, eps=eps, steps=5, step_size=2.5 * eps / 5, norm=norm, band=band
    )
    torch.testing.assert_close(fast, slow, atol=1e-10, rtol=0)


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_band_covering_everything_is_plain_pgd(norm, eps):
    model = tiny_cnn().double()
    images, labels = seeded_images(4, size=8).double(), seeded_labels()
    plain = pgd(model, images, labels, eps=eps, norm=norm, generator=_gen())
    everything = pgd(
        model, images, labels, eps=eps, norm=norm, band=(0, math.inf), generator=_gen()
    )
    torch.testing.assert_close(everything, plain, atol=1e-12, rtol=0)


def test_default_band_is_bit_identical_to_no_band():
    model, images, labels = tiny_cnn(), seeded_images(size=16), seeded_labels()
    default = pgd(model, images, labels, eps=8 / 255, generator=_gen())
    explicit = pgd(model, images, labels, eps=8 / 255, band=None, generator=_gen())
    assert torch.equal(default, explicit)
    assert PGD(eps=8 / 255).band is None


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_random_start_alone_is_band_limited(norm):
    images = _away_from_bounds()
    adv = pgd(
        tiny_cnn(),
        images,
        seeded_labels(6),
        eps=0.1,
        steps=0,
        norm=norm,
        band=HIGH,
        generator=_gen(),
    )
    assert outside_energy(adv - images, *HIGH) < 1e-6
    assert float((adv - images).abs().max()) > 0


def test_a_model_blind_to_the_band_is_never_fooled_through_it():
    # The classifier sees only frequencies >= 3: a low-band perturbation of any size
    # cannot change its output, while the high band and the plain attack fool it.
    model = BandFiltered(linear_model(3, channels=3, size=16), HIGH).double()
    images = _away_from_bounds(8).double()
    with torch.no_grad():
        labels = model(images).argmax(1)
    kwargs = {"eps": 0.2, "steps": 20, "generator": _gen()}
    low = pgd(model, images, labels, band=LOW, **kwargs)
    high = pgd(model, images, labels, band=HIGH, **kwargs)
    with torch.no_grad():
        torch.testing.assert_close(model(low), model(images), atol=1e-9, rtol=0)
        assert bool((model(high).argmax(1) != labels).all())
    assert float((low - images).abs().max()) > 0.1  # the low band did perturb


def test_class_equals_function_and_robust_accuracy_respects_the_band():
    model = BandFiltered(linear_model(3, channels=3, size=16), HIGH).double()
    images = _away_from_bounds(8).double()
    with torch.no_grad():
        labels = model(images).argmax(1)
    attack = PGD(eps=0.2, steps=10, band=LOW, generator=_gen())
    expected = pgd(model, images, labels, eps=0.2, steps=10, band=LOW, generator=_gen())
    assert torch.equal(attack(model, images, labels), expected)
    low = robust_accuracy(model, (images, labels), attack, progress=False)
    high = robust_accuracy(
        model, (images, labels), PGD(eps=0.2, steps=10, band=HIGH), progress=False
    )
    assert low.robust == 1.0 and high.robust == 0.0


def test_restarts_stay_in_the_band():
    images = _away_from_bounds()
    adv = pgd(
        tiny_cnn(),
        images,
        seeded_labels(6),
        eps=0.5,
        norm="l2",
        band=LOW,
        restarts=3,
        generator=_gen(),
    )
    assert outside_energy(adv - images, *LOW) < 1e-6


def test_same_generator_same_output():
    model, images, labels = tiny_cnn(), _away_from_bounds(), seeded_labels(6)
    first = pgd(model, images, labels, eps=8 / 255, band=LOW, generator=_gen(1))
    second = pgd(model, images, labels, eps=8 / 255, band=LOW, generator=_gen(1))
    other = pgd(model, images, labels, eps=8 / 255, band=LOW, generator=_gen(2))
    assert torch.equal(first, second) and not torch.equal(first, other)


def test_caller_state_untouched():
    model = tiny_cnn()
    images, labels = _away_from_bounds(), seeded_labels(6)
    before = images.clone()
    state = copy.deepcopy(model.state_dict())
    flags = [m.training for m in model.modules()]
    pgd(model, images, labels, eps=8 / 255, band=LOW, generator=_gen())
    assert torch.equal(images, before) and not images.requires_grad
    assert all(p.grad is None for p in model.parameters())
    assert [m.training for m in model.modules()] == flags
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    "band,images,error,match",
    [
        ((0, 20), None, ValueError, r"band must lie within \[0, Nyquist\] = \[0, 8\]"),
        ((3, 1), None, ValueError, "low < high"),
        ((0.1, 0.9), None, ValueError, "holds no frequency"),
        ("low", None, TypeError, "band must be a pair"),
        ((0, 4), torch.rand(2, 3, 16, 12), ValueError, r"images must be square .* 16x12"),
    ],
)
def test_bad_band(band, images, error, match):
    images = seeded_images(2, size=16) if images is None else images
    with pytest.raises(error, match=match):
        pgd(tiny_cnn(), images, seeded_labels(2), eps=8 / 255, band=band)
    with pytest.raises(error, match=match):
        PGD(eps=8 / 255, band=band)(tiny_cnn(), images, seeded_labels(2))


@pytest.mark.parametrize("band", [(4, math.inf), (8, 16)])
def test_linf_band_projection_is_near_the_euclidean_projection(band):
    generator = _gen(5)
    eps = torch.full((8, 1, 1, 1), 8 / 255, dtype=torch.float64)
    keep = band_keep(32, *band, torch.device("cpu"))
    previous = band_project(
        torch.rand(8, 3, 32, 32, generator=generator, dtype=torch.float64), keep
    )
    delta = 0.05 * previous + (2 / 255) * torch.randn(8, 3, 32, 32, generator=generator).double()
    fast = project_band(delta, eps, "linf", keep)
    exact = _reference_dykstra(delta[0], 8 / 255, band, 300)  # converged: the projection
    assert float(exact.abs().max()) <= 8 / 255 + 1e-9
    scaled_only = band_project(delta, keep)[0]
    scaled_only = scaled_only * min(1.0, (8 / 255) / float(scaled_only.abs().max()))
    error = float((fast[0] - exact).norm() / exact.norm())
    assert error < 0.03 < float((scaled_only - exact).norm() / exact.norm())
    assert outside_energy(fast, *band) < 1e-9
    assert float(fast.abs().max()) <= 8 / 255


def test_whole_plane_band_projection_is_the_clamp():
    delta = 0.1 * torch.randn(4, 3, 8, 8, generator=_gen(), dtype=torch.float64)
    eps = torch.full((4, 1, 1, 1), 0.05, dtype=torch.float64)
    keep = band_keep(8, 0, math.inf, torch.device("cpu"))
    torch.testing.assert_close(project_band(delta, eps, "linf", keep), delta.clamp(-0.05, 0.05))


def test_linf_band_limited_perturbation_inside_the_ball_is_its_own_projection():
    keep = band_keep(16, 0, 3, torch.device("cpu"))
    delta = 0.02 * torch.randn(4, 3, 16, 16, generator=_gen(2), dtype=torch.float64)
    limited = band_project(delta, keep)
    eps = torch.full((4, 1, 1, 1), float(limited.abs().max()) + 1e-3, dtype=torch.float64)
    assert float(delta.abs().max()) > float(eps.max())  # delta itself is outside the ball
    assert torch.equal(project_band(delta, eps, "linf", keep), limited)
    converged = _reference_dykstra(delta[0], float(eps[0]), (0, 3), 300)
    torch.testing.assert_close(limited[0], converged, atol=1e-9, rtol=0)


@given(
    seed=st.integers(0, 2**31 - 1),
    norm=st.sampled_from(["linf", "l2"]),
    eps=st.floats(0.0, 0.1),
    split=st.sampled_from([1, 2, 3]),
    low_side=st.booleans(),
)
def test_property_in_band_and_in_ball(seed, norm, eps, split, low_side):
    band = (0, split) if low_side else (split, math.inf)
    images = _away_from_bounds(3, size=8, seed=seed % 1000)
    adv = pgd(
        tiny_cnn(), images, seeded_labels(3), eps=eps, steps=3, norm=norm, band=band,
        generator=_gen(seed),
    )  # fmt: skip
    delta = adv - images
    assert outside_energy(delta, *band) < 1e-6
    assert bool((_ball_size(delta, norm) <= eps + 1e-6).all())
