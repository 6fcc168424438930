"""Tiny CPU models shared by the tests."""

from __future__ import annotations

import torch
from torch import nn


def linear_model(
    num_classes: int = 3, channels: int = 1, size: int = 4, seed: int = 0
) -> nn.Module:
    """A bias-carrying linear classifier on flattened images, deterministic weights."""
    generator = torch.Generator().manual_seed(seed)
    layer = nn.Linear(channels * size * size, num_classes)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
        layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator))
    return nn.Sequential(nn.Flatten(), layer).eval()


def tiny_cnn(
    num_classes: int = 3, channels: int = 3, seed: int = 0, batchnorm: bool = True
) -> nn.Module:
    """Two conv layers (+ BatchNorm), global pooling, a linear head; eval mode."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv2d(channels, 8, 3, padding=1)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(8))
    layers += [
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, stride=2),
        nn.Tanh(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    ]
    return nn.Sequential(*layers).eval()


def seeded_images(n: int = 4, channels: int = 3, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def seeded_labels(n: int = 4, num_classes: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, num_classes, (n,), generator=torch.Generator().manual_seed(seed))
