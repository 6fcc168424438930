"""model_randomization_test (Adebayo et al. 2018)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias._stats import rank_correlation
from shapebias.saliency import RandomizationResult, gradient, model_randomization_test
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn
from tests.saliency._nets import relu_cnn


def test_result_shape_default_layers_and_model_untouched() -> None:
    model = tiny_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = model_randomization_test(
        model, seeded_images(), seeded_labels(), generator=torch.Generator().manual_seed(0)
    )
    assert isinstance(result, RandomizationResult)
    assert result.layers == ("7", "3", "1", "0")  # parametrised modules, top first
    assert result.correlation.shape == result.flagged.shape == (4, 4)
    assert torch.equal(result.flagged, result.correlation >= 0.9)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_gradient_of_a_linear_model_changes_completely() -> None:
    # Randomising the only layer replaces the map by random weights: low correlation.
    # (Seed 1: linear_model drew its own weights from seed 0.)
    model = linear_model(num_classes=3, channels=1, size=8)
    images = seeded_images(4, channels=1, size=8)
    generator = torch.Generator().manual_seed(1)
    result = model_randomization_test(
        model, images, 0, "gradient", absolute=False, generator=generator
    )
    assert result.layers == ("1",)
    assert (result.correlation.abs() < 0.5).all()
    assert not result.flagged.any()


def test_a_map_that_ignores_the_model_is_flagged() -> None:
    def edge_detector(model, images, target):
        return images.diff(dim=-1, prepend=images[..., :1])

    result = model_randomization_test(tiny_cnn(), seeded_images(), 0, edge_detector)
    assert result.flagged.all()
    torch.testing.assert_close(result.correlation, torch.ones(4, 4))


def test_matches_a_hand_randomised_copy() -> None:
    # Cascading step 1 = the map of a copy whose top layer was redrawn from the same seed.
    model, images = relu_cnn(), seeded_images()
    result = model_randomization_test(
        model, images, 1, layers=["6", "2"], generator=torch.Generator().manual_seed(5)
    )
    generator = torch.Generator().manual_seed(5)
    copy = relu_cnn()
    with torch.no_grad():
        for param in copy[6].parameters():
            noise = torch.randn(param.shape, generator=generator)
            param.copy_(param.mean() + param.std() * noise)
    expected = rank_correlation(
        gradient(model, images, 1).abs().sum(1), gradient(copy, images, 1).abs().sum(1)
    )
    torch.testing.assert_close(result.correlation[0], expected)


def test_independent_mode_and_determinism() -> None:
    model, images = relu_cnn(), seeded_images()

    def run(cascading: bool) -> torch.Tensor:
        return model_randomization_test(
            model,
            images,
            0,
            layers=["6", "2"],
            cascading=cascading,
            generator=torch.Generator().manual_seed(0),
        ).correlation

    assert torch.equal(run(True), run(True))
    cascading, independent = run(True), run(False)
    torch.testing.assert_close(cascading[0], independent[0])
    assert not torch.allclose(cascading[1], independent[1])


class WithUnusedLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = relu_cnn()
        self.unused = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_smoothgrad_sees_the_same_noise_for_every_map() -> None:
    # Randomising a layer the forward pass never uses leaves the model's function as it
    # is: with the method's generator rewound, the maps are identical (correlation 1).
    model = WithUnusedLayer()
    kwargs = {"n_samples": 2, "generator": torch.Generator().manual_seed(0)}
    result = model_randomization_test(
        model, seeded_images(), 0, "smoothgrad", layers=["unused"], method_kwargs=kwargs
    )
    torch.testing.assert_close(result.correlation, torch.ones(1, 4))


def test_target_fixed_from_the_original_model_and_generator_rewound() -> None:
    model, images = tiny_cnn(), seeded_images()
    seen = []

    def recording(model, images, target, generator):
        seen.append((target.clone(), generator.get_state()))
        torch.randn(5, generator=generator)  # consumes randomness, like SmoothGrad
        return gradient(model, images, target)

    method_kwargs = {"generator": torch.Generator().manual_seed(0)}
    model_randomization_test(
        model, images, None, recording, layers=["7", "3"], method_kwargs=method_kwargs
    )
    predicted = model(images).argmax(1)
    assert all(torch.equal(target, predicted) for target, _ in seen)
    assert all(torch.equal(state, seen[0][1]) for _, state in seen)
    assert len(seen) == 3


def test_grad_cam_layer_given_as_a_module() -> None:
    model = relu_cnn()
    result = model_randomization_test(
        model, seeded_images(), 0, "grad_cam", layers=["6"], method_kwargs={"layer": model[2]}
    )
    assert result.correlation.shape == (1, 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layers": ["9"]}, ValueError, "layers entry '9' is not a submodule with parameters"),
        ({"layers": ["1"]}, ValueError, "layers entry '1' is not a submodule with parameters"),
        ({"layers": "6"}, TypeError, "layers must be a non-empty sequence"),
        ({"layers": []}, TypeError, "layers must be a non-empty sequence"),
        ({"threshold": 2.0}, ValueError, "threshold must be >= -1 and <= 1"),
        ({"method": "lime"}, ValueError, "method must be one of"),
        ({"generator": 1}, TypeError, "generator must be a torch.Generator"),
        ({"method_kwargs": ("n_samples", 3)}, TypeError, "method_kwargs must be a dict"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        model_randomization_test(relu_cnn(), seeded_images(), 0, **kwargs)


def test_plain_callable_model_rejected() -> None:
    with pytest.raises(TypeError, match=r"needs model to be a torch\.nn\.Module"):
        model_randomization_test(lambda x: x.flatten(1), seeded_images(), 0)


def test_unchanged_model_state_on_error() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 3)).eval()
    with pytest.raises(ValueError, match=r"found no nn\.ReLU"):
        model_randomization_test(model, seeded_images(), 0, "guided_backprop")
    assert not model.training
