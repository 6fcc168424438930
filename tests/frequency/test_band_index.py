import copy
import math

import pytest
import torch
from torch import nn

from shapebias.attacks import pgd
from shapebias.distortions import LowPass
from shapebias.frequency import BandEpsIndex, band_eps_index, band_limit, default_eps_grid
from shapebias.frequency._band_index import _summary
from tests._models import seeded_images, tiny_cnn
from tests.frequency._reference import BandFiltered

LOW, HIGH = (0, 3), (3, math.inf)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _own_labels(model, images):
    with torch.no_grad():
        return model(images).argmax(1)


def _index(model, images, labels, **kwargs):
    options = {"low_band": LOW, "high_band": HIGH, "progress": False, "generator": _gen()}
    return band_eps_index(model, (images, labels), **{**options, **kwargs})


def _mlp(seed=0, channels=3, size=16):
    """A 768-32-3 tanh MLP: unlike a random tiny CNN, PGD fools it at moderate budgets."""
    torch.manual_seed(seed)
    hidden = nn.Linear(channels * size * size, 32)
    return nn.Sequential(nn.Flatten(), hidden, nn.Tanh(), nn.Linear(32, 3)).eval()


def _centred_linear(seed=0, size=8):
    """Two-class ``W (x - 1/2)`` on 1 x size x size images, float64."""
    layer = nn.Linear(size * size, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.randn(2, size * size, generator=_gen(seed), dtype=torch.float64))
        layer.bias.copy_(-0.5 * layer.weight.sum(1))
    return nn.Sequential(nn.Flatten(), layer).eval()


def test_linear_model_matches_the_closed_form_minimal_budget():
    # For a linear two-class model the smallest L2 perturbation in band B that flips the
    # decision has norm margin / ||P_B (w_y - w_other)||; CE-PGD without a random start
    # walks straight along P_B (w_other - w_y), so each image's index entry is the
    # smallest grid budget above that norm.
    size, n = 8, 12
    model = _centred_linear()
    images = (0.5 + 0.04 * torch.randn(n, 1, size, size, generator=_gen(1))).double()
    labels = _own_labels(model, images)
    grid = tuple(0.005 * 1.4**k for k in range(14))
    result = _index(model, images, labels, eps_grid=grid, steps=10, random_start=False)
    weight = model[1].weight.detach()
    sign = torch.where(labels == 0, 1.0, -1.0).double()
    diff = sign[:, None] * (weight[0] - weight[1])  # w_y - w_other, per image
    with torch.no_grad():
        logits = model(images)
    margin = (logits.gather(1, labels[:, None]) - logits.gather(1, 1 - labels[:, None])).squeeze(1)
    grid_t = torch.tensor(grid, dtype=torch.float64)
    for band, found in ((LOW, result.eps_low), (HIGH, result.eps_high)):
        limited = band_limit(diff.view(n, 1, size, size), band).flatten(1)
        threshold = margin / limited.norm(dim=1)
        peak = (limited / limited.norm(dim=1, keepdim=True)).abs().amax() * grid[-1]
        assert float(peak) < 0.3  # the clip to [0, 1] never acts: the closed form holds
        above = grid_t[None, :] > threshold[:, None]
        expected = torch.where(
            above.any(1), grid_t[above.int().argmax(1)], torch.tensor(math.inf).double()
        )
        assert torch.equal(found, expected), (band, found, expected)
    assert result.evaluated == n and not torch.equal(result.eps_low, result.eps_high)


def test_bisection_equals_a_brute_force_scan_where_fooling_is_monotone():
    model = _mlp().double()
    images = seeded_images(10, size=16).double()
    labels = _own_labels(model, images)
    grid = tuple(0.05 * 1.6**k for k in range(10))
    result = _index(model, images, labels, eps_grid=grid, steps=8, random_start=False)
    scan = []
    for eps in grid:
        adv = pgd(model, images, labels, eps=eps, steps=8, norm="l2", band=LOW, early_stop=True)
        scan.append(_own_labels(model, adv) != labels)
    fooled = torch.stack(scan, 1)  # (N, G)
    monotone = (fooled.int().diff(dim=1) >= 0).all(1)
    first = torch.where(
        fooled.any(1),
        torch.tensor(grid, dtype=torch.float64)[fooled.int().argmax(1)],
        torch.tensor(math.inf, dtype=torch.float64),
    )
    assert int(monotone.sum()) >= 8 and int(fooled.any(1).sum()) >= 5
    assert torch.equal(result.eps_low[monotone], first[monotone])


def test_models_blind_to_one_band_order_as_expected():
    # Images away from 0 and 1 and budgets up to 1: the clip never acts, so a band the
    # model cannot see can never fool it (with clipping it can: see pgd's band=).
    net = _mlp()
    images = 0.3 + 0.4 * seeded_images(8, size=16)
    grid = tuple(v for v in default_eps_grid("l2") if v <= 1)
    sees_low = BandFiltered(net, LOW)  # a perfect low-pass in front of the classifier
    sees_high = BandFiltered(net, HIGH)
    options = {"steps": 10, "eps_grid": grid}
    low_model = _index(sees_low, images, _own_labels(sees_low, images), **options)
    high_model = _index(sees_high, images, _own_labels(sees_high, images), **options)
    assert low_model.censored_high == 8 and low_model.evaluated >= 5
    assert low_model.index == math.inf and low_model.low_first == 1.0
    assert high_model.censored_low == 8 and high_model.evaluated >= 5
    assert high_model.index == -math.inf and high_model.low_first == 0.0


def test_a_blurring_model_is_fooled_on_smaller_budgets_in_the_low_band():
    net = _mlp()
    images = seeded_images(8, size=16)
    blurred = nn.Sequential(LowPass(sigma=1.5), net).eval()
    plain = _index(net, images, _own_labels(net, images), steps=10)
    blur = _index(blurred, images, _own_labels(blurred, images), steps=10)
    assert blur.evaluated == 8 and blur.index > 0 and blur.low_first > 0.5
    assert blur.index > plain.index  # blurring moves the index towards the low band


def test_images_wrong_on_clean_images_are_left_out():
    model, images = _mlp(), seeded_images(6, size=16)
    labels = _own_labels(model, images)
    labels[:2] = (labels[:2] + 1) % 3
    result = _index(model, images, labels, steps=5)
    assert result.total == 6 and result.clean_correct == 4
    assert bool(result.eps_low[:2].isnan().all()) and bool(result.eps_high[:2].isnan().all())
    assert not bool(result.eps_low[2:].isnan().any())
    assert result.eps_low.dtype == torch.float64 and result.eps_low.device.type == "cpu"


def test_summary_definition():
    inf = math.inf
    low = torch.tensor([1.0, 2.0, inf, 4.0, inf], dtype=torch.float64)
    high = torch.tensor([2.0, 2.0, 1.0, inf, inf], dtype=torch.float64)
    index, low_first, evaluated = _summary(low, high)
    # the last image (censored in both bands) is left out; log ratios -inf, 0, log 2, inf
    assert evaluated == 4
    assert index == pytest.approx(math.log(2) / 2)
    assert low_first == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert all(math.isnan(v) for v in _summary(low[4:], high[4:])[:2])


def test_batches_and_generator_determinism():
    model, images = _mlp(), seeded_images(8, size=16)
    labels = _own_labels(model, images)
    first = _index(model, images, labels, steps=5, batch_size=3, generator=_gen(4))
    second = _index(model, images, labels, steps=5, batch_size=3, generator=_gen(4))
    assert isinstance(first, BandEpsIndex) and first == second
    assert torch.equal(first.eps_low, second.eps_low)
    assert torch.equal(first.eps_high, second.eps_high)
    assert first.eps_grid == default_eps_grid("l2") and first.low_band == (0.0, 3.0)


def test_linf_runs_and_stays_on_its_grid():
    model, images = _mlp(), seeded_images(6, size=16)
    result = _index(model, images, _own_labels(model, images), norm="linf", steps=5)
    assert result.evaluated >= 3
    grid = set(default_eps_grid("linf")) | {math.inf}
    assert all(float(v) in grid for v in torch.cat([result.eps_low, result.eps_high]))


def test_caller_state_untouched():
    model, images = tiny_cnn(), seeded_images(4, size=16)
    labels = _own_labels(model, images)
    before, state = images.clone(), copy.deepcopy(model.state_dict())
    _index(model, images, labels, steps=3)
    assert torch.equal(images, before) and not images.requires_grad
    assert all(p.grad is None for p in model.parameters()) and not model.training
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"low_band": (0, 20)}, ValueError, r"low_band must lie within \[0, Nyquist\] = \[0, 8\]"),
        ({"high_band": (5, 2)}, ValueError, "high_band must have low < high"),
        ({"high_band": "high"}, TypeError, "high_band must be a pair"),
        ({"eps_grid": (0.1, 0.05)}, ValueError, "strictly increasing"),
        ({"eps_grid": (0.0, 0.1)}, ValueError, "finite budgets > 0"),
        ({"eps_grid": []}, ValueError, "finite budgets > 0"),
        ({"eps_grid": "0.1"}, TypeError, "eps_grid must be a 1-D list"),
        ({"eps_grid": (0.1, 2.0), "norm": "linf"}, ValueError, "Did you mean 2/255"),
        ({"norm": "l1"}, ValueError, "norm must be one of"),
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"random_start": 1}, TypeError, "random_start must be True or False"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    model, images = tiny_cnn(), seeded_images(2, size=16)
    with pytest.raises(error, match=match):
        _index(model, images, _own_labels(model, images), **kwargs)


def test_bad_data():
    model = tiny_cnn()
    with pytest.raises(ValueError, match=r"images must be square .* 16x12"):
        _index(model, torch.rand(2, 3, 16, 12), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one sample"):
        band_eps_index(model, [], low_band=LOW, high_band=HIGH, progress=False)


def test_a_dataloader_and_an_outer_no_grad_give_the_same_result():
    model, images = _mlp(), seeded_images(6, size=16)
    labels = _own_labels(model, images)
    expected = _index(model, images, labels, steps=4, batch_size=4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), 4)
    with torch.no_grad():
        result = band_eps_index(model, loader, low_band=LOW, high_band=HIGH, steps=4,
                                progress=False, generator=_gen())  # fmt: skip
    assert torch.equal(result.eps_low, expected.eps_low)
    assert torch.equal(result.eps_high, expected.eps_high)
