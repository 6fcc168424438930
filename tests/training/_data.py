"""Tiny generated data sets and models for the training tests."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.training import StandardLoss


def two_feature_data(
    n: int = 256, size: int = 8, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes told apart by a robust cue and by a fragile one.

    Robust: overall brightness (0.4 vs 0.6, noisy). Fragile: a +-0.04 checkerboard whose
    sign is the label, perfectly predictive but flipped by an L-inf budget of 0.05. A
    standard model may use either; an adversarially trained one must use brightness.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    brightness = 0.4 + 0.2 * labels.double() + 0.1 * torch.randn(n, generator=generator).double()
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = ((rows + cols) % 2 * 2 - 1).double()
    sign = (2 * labels - 1).double()
    images = (
        brightness.view(n, 1, 1, 1)
        + 0.04 * sign.view(n, 1, 1, 1) * checker
        + 0.05 * torch.randn(n, 1, size, size, generator=generator).double()
    )
    return images.clamp(0, 1).float(), labels


def loader(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int = 32,
    seed: int | None = None,
    shuffle: bool = True,
) -> DataLoader:
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle, generator=generator
    )


def conv_net(
    num_classes: int = 2,
    channels: int = 1,
    seed: int = 0,
    batchnorm: bool = True,
    dropout: float = 0.0,
) -> nn.Module:
    """A small conv net (+ BatchNorm, optional Dropout) with seeded weights."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv2d(channels, 8, 3, padding=1)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(8))
    layers += [nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(32, num_classes))
    return nn.Sequential(*layers)


def fit_arguments(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **overrides: Any
) -> tuple[tuple, dict]:
    """``(args, kwargs)`` of a one-epoch standard ``fit`` call, with ``overrides`` applied."""
    train_data = overrides.pop("train_data", loader(images, labels, seed=0))
    kwargs = dict(
        loss=StandardLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=1,
        progress=False,
    )
    kwargs.update(overrides)
    return (model, train_data), kwargs
