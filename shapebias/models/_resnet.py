"""ResNet-18 for small images (CIFAR, Tiny ImageNet), built on torchvision's ResNet."""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet as tv_resnet

from shapebias._validation import check_bool, check_int

__all__ = ["resnet18"]


def resnet18(num_classes: int, *, small_input: bool = True, in_channels: int = 3) -> nn.Module:
    """A ResNet-18 classifier, randomly initialised (no weights are downloaded).

    With ``small_input=True`` (CIFAR/Tiny-ImageNet style) the 7x7 stride-2 stem and
    the max-pool are replaced by a single 3x3 stride-1 convolution, so 32x32 inputs
    keep enough resolution; with ``False`` it is torchvision's ImageNet layout.

    Args:
        num_classes: number of output logits.
        small_input: use the 3x3 stem without max-pool.
        in_channels: image channels.

    Returns:
        A ``torchvision.models.ResNet`` mapping ``(N, C, H, W)`` to logits ``(N, num_classes)``.

    Example:
        >>> import torch
        >>> from shapebias.models import resnet18
        >>> resnet18(10)(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    check_int(num_classes, "num_classes", low=1)
    check_int(in_channels, "in_channels", low=1)
    check_bool(small_input, "small_input")
    net = tv_resnet.resnet18(weights=None, num_classes=num_classes)
    if small_input:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net
