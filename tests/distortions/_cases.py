"""The distortions under a shared contract: (name, function, module, kwargs, random?)."""

from __future__ import annotations

import functools

import torch

from shapebias import distortions as D

STYLES = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(7))

# name -> (function taking (images, generator), module, is_random)
CASES = {
    "saturate": (lambda x, g: D.saturate(x, 8), D.Saturate(8), False),
    "patch_shuffle": (lambda x, g: D.patch_shuffle(x, 4, generator=g), D.PatchShuffle(4), True),
    "low_pass_sigma": (lambda x, g: D.low_pass(x, sigma=1.5), D.LowPass(sigma=1.5), False),
    "low_pass_radius": (lambda x, g: D.low_pass(x, radius=3), D.LowPass(radius=3), False),
    "high_pass": (lambda x, g: D.high_pass(x, sigma=1.0), D.HighPass(sigma=1.0), False),
    "uniform_noise": (
        lambda x, g: D.uniform_noise(x, 0.2, generator=g),
        D.UniformNoise(0.2),
        True,
    ),
    "phase_scramble": (
        lambda x, g: D.phase_scramble(x, 1.0, generator=g),
        D.PhaseScramble(1.0),
        True,
    ),
    "contrast": (lambda x, g: D.contrast(x, 0.3), D.Contrast(0.3), False),
    "grayscale": (lambda x, g: D.grayscale(x), D.Grayscale(), False),
    "edges": (lambda x, g: D.edges(x, sigma=1.0), D.Edges(sigma=1.0), False),
    "stylize_fourier": (
        lambda x, g: D.stylize(x, D.StyleSource(STYLES).draw(x, generator=g), generator=g),
        D.Stylize(STYLES),
        True,
    ),
    "stylize_random_features": (
        lambda x, g: D.stylize(
            x,
            D.StyleSource(STYLES).draw(x, generator=g),
            method="random_features",
            steps=2,
            generator=g,
        ),
        D.Stylize(STYLES, method="random_features", steps=2),
        True,
    ),
}

FUNCTIONS = {
    "saturate": functools.partial(D.saturate, p=8),
    "patch_shuffle": functools.partial(D.patch_shuffle, grid=2),
    "low_pass": functools.partial(D.low_pass, sigma=1.0),
    "high_pass": functools.partial(D.high_pass, radius=2),
    "uniform_noise": functools.partial(D.uniform_noise, width=0.1),
    "phase_scramble": functools.partial(D.phase_scramble, width=0.5),
    "contrast": functools.partial(D.contrast, factor=0.5),
    "grayscale": D.grayscale,
    "edges": D.edges,
    "stylize": functools.partial(D.stylize, style=STYLES[:1]),
}


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
