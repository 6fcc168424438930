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


def test_small_cnn_is_channels_last_and_computes_what_the_default_layout_does():
    torch.manual_seed(0)
    model = small_cnn(4, width=8)
    convs = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not all(w.is_contiguous() for w in convs)  # really converted, not trivially both
    default = small_cnn(4, width=8).to(memory_format=torch.contiguous_format)
    default.load_state_dict(model.state_dict())  # a checkpoint moves between the layouts
    assert all(m.weight.is_contiguous() for m in default.modules() if isinstance(m, nn.Conv2d))
    images = torch.rand(6, 3, 16, 16, requires_grad=True)
    labels = torch.randint(0, 4, (6,))
    for m in (model, default):
        m.eval()
    fast, slow = model(images), default(images)
    assert torch.allclose(fast, slow, atol=1e-5)
    loss = nn.functional.cross_entropy
    (fast_grad,) = torch.autograd.grad(loss(fast, labels), images)
    (slow_grad,) = torch.autograd.grad(loss(slow, labels), images)
    assert torch.allclose(fast_grad, slow_grad, atol=1e-6)
