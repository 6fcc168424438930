"""Integrated Gradients: completeness, quadrature, reference, chunking, baselines, captum."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shapebias.saliency import input_x_gradient, integrated_gradients
from shapebias.saliency._integrated_gradients import _quadrature, path_nodes
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn
from tests.saliency._nets import smooth_cnn


@pytest.mark.parametrize("method", ["trapezoid", "gauss_legendre"])
def test_completeness_on_a_smooth_model(method: str) -> None:
    model = smooth_cnn().double()
    images, labels = seeded_images(3).double(), seeded_labels(3)
    attributions, delta = integrated_gradients(
        model, images, labels, steps=64, method=method, return_delta=True
    )
    with torch.no_grad():
        logits = model(images).gather(1, labels[:, None]).squeeze(1)
        black = model(torch.zeros_like(images)).gather(1, labels[:, None]).squeeze(1)
    gap = logits - black
    assert (delta.abs() <= 1e-3 * gap.abs()).all()
    torch.testing.assert_close(attributions.flatten(1).sum(1) - gap, delta)


def test_linear_model_is_exact_for_any_steps() -> None:
    # For a linear model IG from a black baseline equals gradient x input.
    model = linear_model(channels=1, size=4).double()
    images, labels = seeded_images(4, channels=1, size=4).double(), seeded_labels(4)
    expected = input_x_gradient(model, images, labels)
    for steps, method in [(1, "trapezoid"), (1, "gauss_legendre"), (5, "trapezoid")]:
        torch.testing.assert_close(
            integrated_gradients(model, images, labels, steps=steps, method=method), expected
        )


def reference_ig(model, images, target, baseline, steps):
    """Literal trapezoid IG: one image, one path point at a time."""
    result = torch.zeros_like(images)
    for i in range(images.shape[0]):
        path = []
        for k in range(steps + 1):
            x = (baseline + k / steps * (images[i] - baseline)).unsqueeze(0).requires_grad_(True)
            (grad,) = torch.autograd.grad(model(x)[0, target[i]], x)
            path.append(grad[0])
        integral = (sum(path[1:-1]) + (path[0] + path[-1]) / 2) / steps
        result[i] = (images[i] - baseline) * integral
    return result


def test_matches_literal_reference_with_tensor_baseline() -> None:
    model = tiny_cnn().double()
    images, labels = seeded_images(2).double(), seeded_labels(2)
    baseline = torch.full((3, 8, 8), 0.5, dtype=torch.float64)
    fast = integrated_gradients(model, images, labels, baseline=baseline, steps=6)
    torch.testing.assert_close(fast, reference_ig(model, images, labels, baseline, 6))


def test_per_image_baseline_and_float_baseline() -> None:
    model = tiny_cnn().double()
    images, labels = seeded_images(2).double(), seeded_labels(2)
    per_image = torch.full_like(images, 0.25)
    torch.testing.assert_close(
        integrated_gradients(model, images, labels, baseline=per_image, steps=4),
        integrated_gradients(model, images, labels, baseline=0.25, steps=4),
    )


@settings(max_examples=5)
@given(st.integers(1, 20), st.sampled_from(["trapezoid", "gauss_legendre"]))
def test_same_result_for_any_batch_size(batch_size: int, method: str) -> None:
    model = tiny_cnn().double()
    images, labels = seeded_images(3).double(), seeded_labels(3)
    kwargs = {"steps": 5, "method": method, "return_delta": True}
    attr, delta = integrated_gradients(model, images, labels, batch_size=batch_size, **kwargs)
    attr_ref, delta_ref = integrated_gradients(model, images, labels, **kwargs)
    torch.testing.assert_close(attr, attr_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(delta, delta_ref, rtol=1e-12, atol=1e-12)


@given(st.integers(1, 40), st.sampled_from(["trapezoid", "gauss_legendre"]))
def test_path_nodes_are_a_quadrature_on_the_unit_interval(steps: int, method: str) -> None:
    alphas, weights = path_nodes(steps, method)
    assert len(alphas) == (steps + 1 if method == "trapezoid" else steps)
    assert all(0.0 <= a <= 1.0 for a in alphas)
    assert np.isclose(sum(weights), 1.0)
    # integral of 3 a^2 over [0, 1] is 1; Gauss-Legendre is exact from 2 nodes on.
    estimate = sum(w * 3 * a**2 for a, w in zip(alphas, weights, strict=True))
    tolerance = 1e-12 if method == "gauss_legendre" and steps >= 2 else 0.51 / steps**2
    assert abs(estimate - 1.0) <= tolerance


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be >= 1, got 0"),
        ({"method": "simpson"}, ValueError, "method must be one of 'trapezoid', 'gauss_legendre'"),
        ({"baseline": torch.zeros(3, 4, 4)}, ValueError, "baseline must have the images' shape"),
        ({"baseline": torch.zeros(8, 8)}, ValueError, "baseline must have the images' shape"),
        ({"baseline": torch.full((3, 8, 8), 2.0)}, ValueError, r"baseline must lie in \[0, 1\]"),
        ({"baseline": torch.zeros(3, 8, 8).double()}, ValueError, "baseline must match"),
        ({"baseline": 1.5}, ValueError, "baseline must be >= 0 and <= 1"),
        ({"baseline": "black"}, TypeError, "baseline must be a real number"),
        ({"batch_size": -1}, ValueError, "batch_size must be >= 1"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        integrated_gradients(tiny_cnn(), seeded_images(), 0, **kwargs)


def _captum_ig(images, labels, baseline, model, n_steps, method):
    captum_attr = pytest.importorskip("captum.attr")
    return captum_attr.IntegratedGradients(model).attribute(
        images,
        baselines=baseline,
        target=labels,
        n_steps=n_steps,
        method=method,
        return_convergence_delta=True,
    )


def _setup():
    model = tiny_cnn().double()
    images, labels = seeded_images(3).double(), seeded_labels(3)
    return model, images, labels, torch.full_like(images, 0.5)


def test_gauss_legendre_matches_captum() -> None:
    model, images, labels, baseline = _setup()
    theirs, their_delta = _captum_ig(images, labels, baseline, model, 8, "gausslegendre")
    ours, delta = integrated_gradients(
        model,
        images,
        labels,
        baseline=baseline,
        steps=8,
        method="gauss_legendre",
        return_delta=True,
    )
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(delta, their_delta)


def test_trapezoid_matches_captum_up_to_its_weight_sum() -> None:
    # captum 0.9's "riemann_trapezoid" puts its n nodes at linspace(0, 1, n) (spacing
    # 1/(n-1)) but weights them 1/n, so its weights sum to (n-1)/n: its attributions
    # are ours scaled by (n-1)/n. Ours with steps = n - 1 intervals uses the same nodes.
    model, images, labels, baseline = _setup()
    n = 9
    theirs, _ = _captum_ig(images, labels, baseline, model, n, "riemann_trapezoid")
    ours = integrated_gradients(model, images, labels, baseline=baseline, steps=n - 1)
    torch.testing.assert_close(ours * (n - 1) / n, theirs)


@pytest.mark.parametrize("method", ["trapezoid", "gauss_legendre"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lazy_quadrature_equals_the_node_table(method: str, dtype: torch.dtype) -> None:
    # The trapezoid rule is computed per chunk (O(1) memory for any steps); it must give
    # path_nodes' nodes and weights exactly, in the images' dtype.
    steps = 7
    alpha, weight = _quadrature(steps, method, torch.zeros(1, dtype=dtype))
    alphas, weights = path_nodes(steps, method)
    copies = torch.arange(len(alphas))
    assert [alpha(s) for s in range(len(alphas))] == alphas
    assert weight(copies).dtype == dtype
    assert torch.equal(weight(copies), torch.tensor(weights, dtype=dtype))


def test_gauss_legendre_beyond_the_node_bound_is_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="steps must be <= 1000 with method='gauss_legendre'"):
        integrated_gradients(lambda x: 1 / 0, torch.rand(1, 1, 2, 2), 0, steps=10**6,
                             method="gauss_legendre")  # fmt: skip
