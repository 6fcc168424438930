"""The distortions under a shared contract, as a table of :class:`Case` rows."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from shapebias import distortions as D

# Values in [0.05, 0.95] rounded to bfloat16: exact in float16 and bfloat16 too, so a style
# drawn in half precision is the float32 style.
STYLES = 0.05 + 0.9 * torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(7))
STYLES = STYLES.to(torch.bfloat16).float()


class Case(NamedTuple):
    """One distortion: ``function(images, generator=g)``, its Module twin, is it random?

    ``function`` and ``module`` take the same settings, so both give the same output for
    the same generator state; both are called with ``generator=`` whether random or not
    (the uniform protocol).
    """

    function: Callable[..., torch.Tensor]
    module: nn.Module
    is_random: bool


def _stylize_with_drawn_style(images, *, generator=None, **options):
    style = D.StyleSource(STYLES).draw(images, generator=generator)
    return D.stylize(images, style, generator=generator, **options)


P = functools.partial
CASES = {
    "saturate": Case(P(D.saturate, p=8), D.Saturate(8), False),
    "patch_shuffle": Case(P(D.patch_shuffle, grid=4), D.PatchShuffle(4), True),
    "low_pass_sigma": Case(P(D.low_pass, sigma=1.5), D.LowPass(sigma=1.5), False),
    "low_pass_radius": Case(P(D.low_pass, radius=3), D.LowPass(radius=3), False),
    "high_pass": Case(P(D.high_pass, sigma=1.0), D.HighPass(sigma=1.0), False),
    "uniform_noise": Case(P(D.uniform_noise, width=0.2), D.UniformNoise(0.2), True),
    "phase_scramble": Case(P(D.phase_scramble, width=1.0), D.PhaseScramble(1.0), True),
    "contrast": Case(P(D.contrast, factor=0.3), D.Contrast(0.3), False),
    "grayscale": Case(D.grayscale, D.Grayscale(), False),
    "edges": Case(P(D.edges, sigma=1.0), D.Edges(sigma=1.0), False),
    "stylize_fourier": Case(_stylize_with_drawn_style, D.Stylize(STYLES), True),
    "stylize_random_features": Case(
        P(_stylize_with_drawn_style, method="random_features", steps=2),
        D.Stylize(STYLES, method="random_features", steps=2),
        True,
    ),
}

# name -> (function of the images alone, the name its errors give the images)
FUNCTIONS = {
    "saturate": (P(D.saturate, p=8), "images"),
    "patch_shuffle": (P(D.patch_shuffle, grid=2), "images"),
    "low_pass": (P(D.low_pass, sigma=1.0), "images"),
    "high_pass": (P(D.high_pass, radius=2), "images"),
    "uniform_noise": (P(D.uniform_noise, width=0.1), "images"),
    "phase_scramble": (P(D.phase_scramble, width=0.5), "images"),
    "contrast": (P(D.contrast, factor=0.5), "images"),
    "grayscale": (D.grayscale, "images"),
    "edges": (D.edges, "images"),
    "stylize": (P(D.stylize, style=STYLES[:1]), "content"),
}


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
