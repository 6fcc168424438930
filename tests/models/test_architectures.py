import pytest
import torch
from torch import nn

from shapebias.models import resnet18, small_cnn


def test_resnet18_small_input_stem():
    model = resnet18(10).eval()
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_resnet18_imagenet_stem_and_channels():
    model = resnet18(5, small_input=False, in_channels=1).eval()
    assert model.conv1.kernel_size == (7, 7) and model.conv1.in_channels == 1
    assert model(torch.rand(1, 1, 64, 64)).shape == (1, 5)


@pytest.mark.parametrize("size", [8, 32, 64])
def test_small_cnn_any_size(size):
    model = small_cnn(7, in_channels=1, width=4).eval()
    assert model(torch.rand(3, 1, size, size)).shape == (3, 7)


@pytest.mark.parametrize(
    "factory,kwargs,error,match",
    [
        (resnet18, {"num_classes": 0}, ValueError, "num_classes must be >= 1"),
        (small_cnn, {"num_classes": 2.0}, TypeError, "num_classes must be an int"),
        (small_cnn, {"num_classes": 2, "depth": 0}, ValueError, "depth must be >= 1"),
    ],
)
def test_bad_arguments(factory, kwargs, error, match):
    with pytest.raises(error, match=match):
        factory(**kwargs)
