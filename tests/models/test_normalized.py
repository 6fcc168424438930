import pytest
import torch
from torch import nn

from shapebias.models import IMAGENET_MEAN, IMAGENET_STD, NormalizedModel


def test_normalizes_before_the_network():
    net = nn.Identity()
    model = NormalizedModel(net, IMAGENET_MEAN, IMAGENET_STD)
    images = torch.rand(2, 3, 5, 5)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(model(images), (images - mean) / std)


def test_keeps_dtype_and_moves_with_the_model():
    model = NormalizedModel(nn.Identity(), [0.5], [0.5]).double()
    out = model(torch.rand(1, 1, 2, 2, dtype=torch.float64))
    assert out.dtype == torch.float64
    assert set(dict(model.named_buffers())) == {"mean", "std"}


def test_does_not_mutate_mean_argument():
    mean = torch.tensor([0.1, 0.2, 0.3])
    model = NormalizedModel(nn.Identity(), mean, [1.0, 1.0, 1.0])
    model.mean.add_(1)
    assert mean.tolist() == pytest.approx([0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    "args,error,match",
    [
        ((nn.Identity(), [0.5, 0.5], [0.5]), ValueError, "one value per channel"),
        ((nn.Identity(), [0.5], [0.0]), ValueError, "std must be positive"),
        ((nn.Identity(), "rgb", [0.5]), TypeError, "mean must be a sequence"),
        ((lambda x: x, [0.5], [0.5]), TypeError, "model must be a torch.nn.Module"),
        ((nn.Identity(), [float("nan")], [0.5]), ValueError, "mean must be finite"),
    ],
)
def test_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        NormalizedModel(*args)


def test_channel_mismatch_in_forward():
    model = NormalizedModel(nn.Identity(), IMAGENET_MEAN, IMAGENET_STD)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.rand(1, 1, 4, 4))
