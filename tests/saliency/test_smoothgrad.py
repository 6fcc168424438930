"""SmoothGrad: reference implementation, chunking invariance, noise scale, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from shapebias.saliency import gradient, smoothgrad
from tests._models import seeded_images, seeded_labels, tiny_cnn


def reference_smoothgrad(model, images, target, n_samples, noise_level, generator, aggregate):
    """Literal SmoothGrad: per copy, per image, draw that image's noise, take one gradient."""
    total = torch.zeros_like(images)
    for _ in range(n_samples):
        for i in range(images.shape[0]):
            noise = torch.randn(images.shape[1:], generator=generator, dtype=images.dtype)
            sigma = noise_level * (images[i].max() - images[i].min())
            x = (images[i : i + 1] + sigma * noise[None]).requires_grad_(True)
            loss = nn.functional.cross_entropy(model(x), target[i : i + 1])
            (grad,) = torch.autograd.grad(loss, x)
            total[i] += {"mean": grad, "abs": grad.abs(), "square": grad.square()}[aggregate][0]
    return total / n_samples


@pytest.mark.parametrize("aggregate", ["mean", "abs", "square"])
def test_matches_literal_reference(aggregate: str) -> None:
    model = tiny_cnn().double()
    images, labels = seeded_images(3).double(), seeded_labels(3)
    images[0] *= 0.5  # different value ranges, so different sigmas per image
    fast = smoothgrad(
        model,
        images,
        labels,
        output="loss",
        n_samples=4,
        noise_level=0.2,
        aggregate=aggregate,
        generator=torch.Generator().manual_seed(3),
    )
    slow = reference_smoothgrad(
        model, images, labels, 4, 0.2, torch.Generator().manual_seed(3), aggregate
    )
    torch.testing.assert_close(fast, slow)


def test_one_sample_without_noise_is_the_gradient() -> None:
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    for output in ("logit", "loss"):
        torch.testing.assert_close(
            smoothgrad(model, images, labels, n_samples=1, noise_level=0.0, output=output),
            gradient(model, images, labels, output=output),
        )


@settings(max_examples=8)
@given(st.integers(1, 16))
def test_same_result_for_any_batch_size(batch_size: int) -> None:
    model = tiny_cnn().double()
    images, labels = seeded_images(3).double(), seeded_labels(3)

    def run(size: int | None) -> torch.Tensor:
        generator = torch.Generator().manual_seed(1)
        return smoothgrad(model, images, labels, n_samples=4, batch_size=size, generator=generator)

    torch.testing.assert_close(run(batch_size), run(None), rtol=1e-12, atol=1e-12)


def test_seeded_determinism_and_fresh_noise() -> None:
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()

    def run(seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return smoothgrad(model, images, labels, n_samples=4, generator=generator)

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_constant_image_gets_no_noise() -> None:
    # sigma = noise_level * (max - min) of each image: zero for a constant image.
    model = tiny_cnn()
    images = torch.full((2, 3, 8, 8), 0.4)
    generator = torch.Generator().manual_seed(0)
    result = smoothgrad(model, images, 1, n_samples=3, noise_level=0.5, generator=generator)
    torch.testing.assert_close(result, gradient(model, images, 1))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be >= 1, got 0"),
        ({"n_samples": 2.0}, TypeError, "n_samples must be an int"),
        ({"noise_level": -0.1}, ValueError, "noise_level must be >= 0"),
        ({"aggregate": "max"}, ValueError, "aggregate must be one of 'mean', 'abs', 'square'"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        smoothgrad(tiny_cnn(), seeded_images(), 0, **kwargs)


def test_matches_captum_smoothgrad_squared() -> None:
    # captum's stdevs are absolute: for an image spanning [0, 1], stdevs = noise_level.
    captum_attr = pytest.importorskip("captum.attr")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    images = torch.tensor([[0.0, 1.0, 0.3, 0.6]], dtype=torch.float64).view(1, 1, 2, 2)
    ours = smoothgrad(
        model,
        images,
        1,
        n_samples=20000,
        noise_level=0.3,
        batch_size=20000,
        aggregate="square",
        generator=torch.Generator().manual_seed(0),
    )
    tunnel = captum_attr.NoiseTunnel(captum_attr.Saliency(model))
    theirs = tunnel.attribute(
        images, nt_type="smoothgrad_sq", nt_samples=20000, stdevs=0.3, target=1, abs=False
    )
    torch.testing.assert_close(ours, theirs, rtol=0.03, atol=0.0)
