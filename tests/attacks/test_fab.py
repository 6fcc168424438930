"""FAB / FAB-T against a literal reference, a generic solver, closed forms and torchattacks."""

import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import linprog, minimize
from torch import nn

from shapebias.attacks import FAB, fab, robust_accuracy
from shapebias.attacks import _hyperplane as hyperplane
from shapebias.attacks._fab import _random_start, _settings, run_fab
from shapebias.attacks._hyperplane import box_hyperplane_step
from shapebias.models import TrainModeWarning
from tests._models import seeded_images, seeded_labels, tiny_cnn
from tests.attacks._nets import mlp_task
from tests.attacks._reference_fab import reference_fab, reference_projection


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _size(delta, norm):
    flat = delta.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


# --- the projection onto hyperplane and box -------------------------------------------


def _solver_optimum(x, w, change, norm):
    """The smallest norm of a box step onto the hyperplane by a generic solver, or None
    where the box cannot reach it (linprog for L-inf, SLSQP for L2)."""
    d, bounds = len(x), [(-xi, 1 - xi) for xi in x]
    if norm == "linf":  # min t  s.t.  -t <= delta_i <= t, <w, delta> = change, box
        eye, ones = np.eye(d), np.ones((d, 1))
        result = linprog(
            np.r_[np.zeros(d), 1.0], A_ub=np.block([[eye, -ones], [-eye, -ones]]),
            b_ub=np.zeros(2 * d), A_eq=np.r_[w, 0.0][None], b_eq=[change],
            bounds=[*bounds, (0, None)],
        )  # fmt: skip
        return result.fun if result.status == 0 else None
    result = minimize(
        lambda v: v @ v, np.zeros(d), jac=lambda v: 2 * v, bounds=bounds, method="SLSQP",
        constraints=[{"type": "eq", "fun": lambda v: w @ v - change, "jac": lambda v: w}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )  # fmt: skip
    return float(np.sqrt(result.fun)) if abs(w @ result.x - change) < 1e-9 else None


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_matches_a_generic_solver(norm):
    g = _gen(1)
    points = torch.rand(60, 9, generator=g, dtype=torch.float64)
    w = torch.randn(60, 9, generator=g, dtype=torch.float64)
    w[::5, :3] = 0.0  # coordinates the hyperplane ignores
    change = torch.randn(60, generator=g, dtype=torch.float64) * torch.linspace(0.1, 3, 60)
    delta = box_hyperplane_step(points, w, change, norm)
    moved = points + delta
    assert bool(((moved >= 0) & (moved <= 1)).all())
    assert bool((delta[::5, :3] == 0).all())
    reached = unreachable = 0
    for i in range(60):
        x, wi, ci = points[i].numpy(), w[i].numpy(), float(change[i])
        optimum = _solver_optimum(x, wi, ci, norm)
        if optimum is None:  # the farthest step towards the hyperplane
            room = np.where(wi * np.sign(ci) > 0, 1 - x, x)
            np.testing.assert_allclose(delta[i].numpy(), np.sign(wi * ci) * room, atol=1e-12)
            assert abs(wi @ delta[i].numpy()) < abs(ci)
            unreachable += 1
            continue
        assert abs(wi @ delta[i].numpy() - ci) < 1e-9  # on the hyperplane
        assert float(_size(delta[i : i + 1], norm)) <= optimum + 1e-7  # no longer than optimal
        reached += 1
    assert reached >= 30 and unreachable >= 3  # both regimes were exercised


def test_projection_matches_the_bisection_reference_and_keeps_dtype():
    g = _gen(2)
    points, w = torch.rand(20, 30, generator=g), torch.randn(20, 30, generator=g)
    change = torch.randn(20, generator=g)
    for norm in ("linf", "l2"):
        delta = box_hyperplane_step(points, w, change, norm)
        assert delta.dtype == torch.float32
        for i in range(20):
            expected = reference_projection(
                points[i].double(), w[i].double(), float(change[i]), norm
            )
            torch.testing.assert_close(delta[i].double(), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_newton_and_sorting_solve_the_same_problem(norm, monkeypatch):
    """The Newton shortcut against the sorting solver alone, on instances whose box
    binds often (large changes) or never lets the hyperplane be reached."""
    g = _gen(3)
    points, w = (
        torch.rand(200, 40, generator=g).double(),
        torch.randn(200, 40, generator=g).double(),
    )
    change = torch.randn(200, generator=g).double() * torch.logspace(-3, 1, 200).double()
    fast = box_hyperplane_step(points, w, change, norm)
    monkeypatch.setattr(hyperplane, "NEWTON_STEPS", 0)
    torch.testing.assert_close(fast, box_hyperplane_step(points, w, change, norm), atol=1e-12,
                               rtol=0)  # fmt: skip


def test_projection_without_a_binding_box_is_the_closed_form():
    w = torch.tensor([[0.3, -0.1, 0.2, -0.4]], dtype=torch.float64)
    points = torch.full((1, 4), 0.5, dtype=torch.float64)
    change = torch.tensor([0.05], dtype=torch.float64)
    linf = box_hyperplane_step(points, w, change, "linf")
    torch.testing.assert_close(linf, w.sign() * 0.05 / w.abs().sum(), rtol=0, atol=1e-15)
    l2 = box_hyperplane_step(points, w, change, "l2")
    torch.testing.assert_close(l2, w * 0.05 / (w * w).sum(), rtol=0, atol=1e-15)


# --- the attack against the literal reference -------------------------------------------


@pytest.mark.parametrize(
    "norm,eps,targeted", [("linf", 0.05, True), ("l2", 0.3, True), ("linf", 0.05, False)]
)
def test_matches_the_literal_reference(norm, eps, targeted):
    model, images, labels = mlp_task(n=10, seed=3, wrong=0)
    kwargs = {"eps": eps, "norm": norm, "steps": 8, "targeted": targeted, "num_targets": 3}
    ours = fab(model, images, labels, **kwargs)
    expected = reference_fab(model, images, labels, **kwargs)
    torch.testing.assert_close(ours, expected, atol=1e-9, rtol=0)
    changed = (ours != images).flatten(1).any(1)
    assert 0 < int(changed.sum()) < 10  # a budget where some, not all, samples break


def test_eta_alpha_and_beta_take_effect_like_in_the_reference():
    model, images, labels = mlp_task(n=6, seed=4, wrong=0)
    kwargs = {"eps": 1.0, "norm": "l2", "steps": 6, "alpha_max": 0.3, "eta": 1.2, "beta": 0.6}
    ours = fab(model, images, labels, num_targets=2, **kwargs)
    expected = reference_fab(model, images, labels, num_targets=2, **kwargs)
    torch.testing.assert_close(ours, expected, atol=1e-9, rtol=0)
    defaults = fab(model, images, labels, num_targets=2, eps=1.0, norm="l2", steps=6)
    changed = (ours != images).flatten(1).any(1)
    assert bool(changed.any()) and not torch.equal(ours[changed], defaults[changed])


# --- a linear model: the minimal perturbation in closed form ---------------------------


def _two_class_linear():
    """``f_1 - f_0 = <w, x - 0.5> - 0.1 < 0``: the smallest flip is ``(f_0 - f_1) / ||w||_q``."""
    w = torch.tensor([0.8, -0.5, 0.3, -0.2, 0.6, -0.9, 0.4, 0.1, -0.7], dtype=torch.float64)
    layer = nn.Linear(9, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.stack([torch.zeros(9), w.float()]).double())
        layer.bias.copy_(torch.tensor([0.0, -float(w.sum()) * 0.5 - 0.1]))
    model = nn.Sequential(nn.Flatten(), layer).eval()
    g = _gen(5)
    images = 0.5 + 0.01 * torch.randn(6, 1, 3, 3, generator=g, dtype=torch.float64)
    return model, images, torch.zeros(6, dtype=torch.int64), w


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("targeted", [True, False])
def test_linear_model_minimal_perturbation_and_budget_edges(norm, targeted):
    model, images, labels, w = _two_class_linear()
    with torch.no_grad():
        logits = model(images)
    assert bool((logits.argmax(1) == 0).all())
    dual = w.abs().sum() if norm == "linf" else w.norm()
    minimal = (logits[:, 0] - logits[:, 1]) / dual  # the box does not bind (checked below)
    assert float(minimal.max()) < 0.3
    kwargs = {"norm": norm, "steps": 100, "targeted": targeted, "num_targets": 1}
    adv = fab(model, images, labels, eps=1.0, **kwargs)
    found = _size(adv - images, norm)
    assert bool((model(adv).argmax(1) == 1).all())
    assert bool((found >= minimal * (1 - 1e-9)).all()) and bool((found <= minimal * 1.01).all())
    budgets = torch.where(torch.arange(6) % 2 == 0, minimal * 0.99, minimal * 1.02)
    at_edges = fab(model, images, labels, eps=budgets, **kwargs)
    broken = (at_edges != images).flatten(1).any(1)
    assert broken.tolist() == [False, True] * 3
    assert bool((model(at_edges).argmax(1)[broken] == 1).all())


def test_targeted_runs_count_any_misclassification_as_autoattack_does():
    """Along the only direction the model has, class 2 takes over before the target 1
    reaches the true class: the run towards 1 breaks the sample through class 2, which
    counts (AutoAttack's FAB-T and APGD-T count any misclassification); an attack that
    demanded the target would return the clean image."""
    w = torch.full((4,), 0.25, dtype=torch.float64)
    layer = nn.Linear(4, 3).double()
    with torch.no_grad():  # g = <w, x - 0.5>: f0 = 0, f1 = g - 0.1, f2 = 2 g - 0.15
        layer.weight.copy_(torch.stack([0 * w, w, 2 * w]))
        layer.bias.copy_(torch.tensor([0.0, -0.1 - 0.5, -0.15 - 1.0]))
    model = nn.Sequential(nn.Flatten(), layer).eval()
    images = torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64)
    labels = torch.tensor([0])
    assert model(images).argsort(descending=True)[0].tolist() == [0, 1, 2]
    for kwargs in ({"num_targets": 1}, {"targeted": False}):
        adversarial = fab(model, images, labels, eps=0.5, steps=30, **kwargs)
        assert int(model(adversarial).argmax()) == 2
        assert float((adversarial - images).abs().max()) <= 0.5
    too_small = fab(model, images, labels, eps=0.05, steps=30, num_targets=1)
    assert torch.equal(too_small, images)  # class 2 needs g >= 0.075: |d| >= 0.075


# --- the attack's contract --------------------------------------------------------------


@pytest.mark.parametrize("norm,eps", [("linf", 0.05), ("l2", 0.4)])
@pytest.mark.parametrize("restarts", [1, 3])
def test_in_ball_in_range_and_every_change_is_a_success(norm, eps, restarts):
    model, images, labels = mlp_task(n=24, seed=1, wrong=0)
    budgets = torch.linspace(0, eps, 24, dtype=torch.float64)
    adv = fab(model, images, labels, eps=budgets, norm=norm, steps=10, num_targets=2,
              restarts=restarts, generator=_gen())  # fmt: skip
    assert bool((_size(adv - images, norm) <= budgets).all())
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1 and not adv.requires_grad
    with torch.no_grad():
        predicted = model(adv).argmax(1)
    changed = (adv != images).flatten(1).any(1)
    assert bool((predicted[changed] != labels[changed]).all())  # only breaks are returned
    assert bool(torch.equal(adv[~changed], images[~changed])) and not bool(changed[0])
    assert int(changed.sum()) >= 3


def test_restarts_are_deterministic_and_start_at_half_the_radius():
    model, images, labels = mlp_task(n=16, seed=2, wrong=0)
    kwargs = {"eps": 0.3, "norm": "l2", "steps": 4, "num_targets": 2, "restarts": 3}
    gen = _gen(7)
    one = fab(model, images, labels, **kwargs, generator=gen)
    assert torch.equal(one, fab(model, images, labels, **kwargs, generator=_gen(7)))
    assert not torch.equal(gen.get_state(), _gen(7).get_state())  # restarts drew from it
    gen = _gen(7)
    fab(model, images, labels, **{**kwargs, "restarts": 1}, generator=gen)
    assert torch.equal(gen.get_state(), _gen(7).get_state())  # one run: from the clean image
    clean = torch.full((3, 1, 4, 4), 0.5, dtype=torch.float64)
    radius = torch.tensor([0.0, 0.2, 0.4], dtype=torch.float64)
    for norm in ("linf", "l2"):
        start = _random_start(clean, radius, norm, _gen(1))
        torch.testing.assert_close(_size(start - clean, norm), radius / 2, rtol=1e-12, atol=0)
        assert torch.equal(start, _random_start(clean, radius, norm, _gen(1)))


def test_ensemble_path_breaks_exactly_the_samples_fab_returns_adversarial():
    model, images, labels = mlp_task(n=24, seed=5, wrong=0)
    kwargs = {"eps": 0.04, "norm": "linf", "steps": 10, "targeted": True, "num_targets": 3,
              "restarts": 2, "alpha_max": 0.1, "eta": 1.05, "beta": 0.9}  # fmt: skip
    adv, broken = run_fab(model, images, labels, _settings(model, images, labels, **kwargs,
                          generator=_gen(3)))  # fmt: skip
    active = torch.arange(24) % 3 != 0
    _, early = run_fab(model, images, labels, _settings(model, images, labels, **kwargs,
                       generator=_gen(3)), active=active, early_stop=True)  # fmt: skip
    assert torch.equal(early, broken & active) and 0 < int(early.sum()) < int(active.sum())
    assert torch.equal(broken, (adv != images).flatten(1).any(1))


def test_class_equals_function_and_works_under_no_grad():
    model, images, labels = tiny_cnn(num_classes=4), seeded_images(), seeded_labels(num_classes=4)
    expected = fab(model, images, labels, eps=0.3, steps=4, num_targets=2)
    with torch.no_grad():
        inside = fab(model, images, labels, eps=0.3, steps=4, num_targets=2)
    twin = FAB(eps=0.3, steps=4, num_targets=2)(model, images, labels)
    assert torch.equal(inside, expected) and torch.equal(twin, expected)
    assert not torch.equal(expected, images)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"steps": 0}, ValueError, "steps must be >= 1, got 0"),
        ({"steps": 2.0}, TypeError, "steps must be an int"),
        ({"num_targets": 3}, ValueError, r"num_targets must be below the model's 3 classes"),
        ({"num_targets": 0}, ValueError, "num_targets must be >= 1"),
        ({"alpha_max": 0.0}, ValueError, r"alpha_max must lie in \(0, 1\), got 0"),
        ({"alpha_max": 1.0}, ValueError, r"alpha_max must lie in \(0, 1\), got 1.*0.1"),
        ({"beta": 1.5}, ValueError, r"beta must lie in \(0, 1\), got 1\.5"),
        ({"beta": 1}, ValueError, r"beta must lie in \(0, 1\), got 1.*0.9"),
        ({"eta": 0.9}, ValueError, r"eta must be >= 1, got 0.9"),
        ({"eta": float("inf")}, ValueError, "eta must be a finite number"),
        ({"norm": "l1"}, ValueError, "norm must be one of 'linf', 'l2', got 'l1'"),
        ({"targeted": "yes"}, TypeError, "targeted must be True or False"),
        ({"restarts": 0}, ValueError, "restarts must be >= 1"),
        ({"eps": 8}, ValueError, "Did you mean 8/255"),
        ({"generator": 1}, TypeError, "generator must be a torch.Generator"),
        ({"gamma": 1}, TypeError, "gamma"),
    ],
)
def test_bad_input(kwargs, error, match):
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    model.train()  # the errors leave its mode (and grads) alone
    with warnings.catch_warnings(), pytest.raises(error, match=match):
        warnings.simplefilter("ignore", TrainModeWarning)
        fab(model, images, labels, **{"eps": 0.1, "steps": 2, "num_targets": 2, **kwargs})
    assert model.training and all(p.grad is None for p in model.parameters())


def test_train_mode_warning():
    with pytest.warns(TrainModeWarning):
        fab(tiny_cnn().train(), seeded_images(), seeded_labels(), eps=0.01, steps=1,
            num_targets=2)  # fmt: skip


def test_untargeted_picks_the_closest_boundary_each_step():
    """A linear 3-class model whose class-2 boundary is nearer than class 1's although
    class 1 has the larger logit: untargeted FAB crosses into class 2 at its distance."""
    w1, w2 = torch.tensor([1.0, 0.0]).double(), torch.tensor([0.0, 4.0]).double()
    layer = nn.Linear(2, 3).double()
    with torch.no_grad():  # f0 = 0, f1 = x1 - 0.5 - 0.1, f2 = 4 (x2 - 0.5) - 0.2
        layer.weight.copy_(torch.stack([0 * w1, w1, w2]))
        layer.bias.copy_(torch.tensor([0.0, -0.6, -2.2]))
    model = nn.Sequential(nn.Flatten(), layer).eval()
    images, labels = torch.full((1, 1, 1, 2), 0.5).double(), torch.tensor([0])
    adv = fab(model, images, labels, eps=1.0, norm="l2", steps=50, targeted=False)
    assert int(model(adv).argmax()) == 2
    assert 0.05 <= float(_size(adv - images, "l2")) <= 0.05 * 1.01  # 0.2 / 4, not 0.1 / 1


# --- against torchattacks on a trained CNN ------------------------------------------------

EPOCHS = 10


def test_fab_t_within_one_point_of_torchattacks_on_a_trained_cnn():
    torchattacks = pytest.importorskip("torchattacks")
    from shapebias.data import ShapeTextureDataset
    from shapebias.models import small_cnn

    def stack(split, size):
        data = ShapeTextureDataset(split, size=size, num_classes=4, image_size=16,
                                   texture_correlation=0.8, seed=0)  # fmt: skip
        items = [data[i] for i in range(size)]
        return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items])

    images, labels = stack("train", 1000)
    test_images, test_labels = stack("test", 100)
    torch.manual_seed(0)
    model = small_cnn(4, width=16)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(EPOCHS):
        for batch in torch.randperm(1000).split(32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimiser.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    classes = 4
    ours = robust_accuracy(model, (test_images, test_labels),
                           FAB(eps=1 / 255, steps=20, num_targets=classes - 1),
                           progress=False)  # fmt: skip
    peer = torchattacks.FAB(model, eps=1 / 255, steps=20, multi_targeted=True, n_classes=classes)
    with torch.no_grad():
        peer_robust = float((model(peer(test_images, test_labels)).argmax(1) == test_labels)
                            .float().mean())  # fmt: skip
    assert ours.clean > 0.55  # trained well above chance (0.25)
    assert 0.1 < ours.robust < ours.clean - 0.1  # neither 0 nor clean accuracy
    assert abs(ours.robust - peer_robust) <= 0.01


def test_a_single_class_model_is_refused():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1)).eval()
    with pytest.raises(ValueError, match="fab needs a model with at least 2 classes, got 1"):
        fab(model, seeded_images(), torch.zeros(4, dtype=torch.int64), eps=0.1, targeted=False)
