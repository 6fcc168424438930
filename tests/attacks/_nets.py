"""A small smooth classifier that APGD, APGD-T and Square can partly break at small budgets."""

from __future__ import annotations

import torch
from torch import nn

from tests._models import seeded_images


def mlp_task(n: int = 40, seed: int = 0, wrong: int = 4):
    """A 36-32-5 tanh MLP (float64) on 1x6x6 images labelled by its own predictions,
    the first ``wrong`` labels shifted so those samples are wrong on clean images."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 32), nn.Tanh(), nn.Linear(32, 5))
    model = model.double().eval()
    images = seeded_images(n, channels=1, size=6, seed=seed).double()
    with torch.no_grad():
        labels = model(images).argmax(1)
    labels[:wrong] = (labels[:wrong] + 1) % 5
    return model, images, labels
