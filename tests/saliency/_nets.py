"""Small models for the saliency tests (besides tests/_models.py)."""

from __future__ import annotations

import torch
from torch import nn


def smooth_cnn(num_classes: int = 3, channels: int = 3, seed: int = 0) -> nn.Module:
    """Conv-tanh-conv-softplus-pool-linear: smooth, so IG quadrature converges fast."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(channels, 6, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(6, 6, 3, padding=1),
        nn.Softplus(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(24, num_classes),
    ).eval()


def relu_cnn(
    num_classes: int = 3, channels: int = 3, seed: int = 0, inplace: bool = False
) -> nn.Module:
    """Conv-ReLU-conv-ReLU-pool-linear with ReLU modules (for guided backprop, Grad-CAM)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(channels, 6, 3, padding=1),
        nn.ReLU(inplace=inplace),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(inplace=inplace),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    ).eval()


class Raises(nn.Module):
    """Fails in forward, to check that hooks are removed on error."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def hooks_left(model: nn.Module) -> int:
    """Number of forward/backward hooks registered anywhere in ``model``."""
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )
