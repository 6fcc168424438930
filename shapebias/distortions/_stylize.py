"""Stylisation: texture from a style image, shape from the content image."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from shapebias._validation import check_choice, check_int, check_real
from shapebias.distortions._adain import AdaIN
from shapebias.distortions._checks import (
    check_batch_like,
    check_distortion_inputs,
    check_fraction,
    per_image_or_batch,
    pick_generator,
    working_precision,
)
from shapebias.distortions._fourier import recombine
from shapebias.distortions._random_features import random_feature_stylize
from shapebias.distortions._styles import StyleSource, image_size, resize_images

__all__ = ["METHODS", "Stylize", "amplitude_swap", "stylize"]

METHODS = ("fourier", "random_features", "adain")


def amplitude_swap(content: torch.Tensor, style: torch.Tensor, alpha: float) -> torch.Tensor:
    """Unclipped image with amplitude ``lerp(|F content|, |F style|, alpha)``, content's phase.

    Per channel, on the 2-D real FFT. ``style`` broadcasts over the batch; no checks.
    """
    content_spectrum = torch.fft.rfft2(content)
    amplitude = torch.lerp(content_spectrum.abs(), torch.fft.rfft2(style).abs(), alpha)
    return recombine(amplitude, content_spectrum.angle(), image_size(content))


def _check_adain(adain: Any, method: str) -> AdaIN | None:
    if method != "adain":
        return None
    if not isinstance(adain, AdaIN):
        raise TypeError(
            "method='adain' needs the trained network: pass "
            "adain=load_adain('vgg_normalised.pth', 'decoder.pth').to(content), "
            f"got adain={type(adain).__name__}."
        )
    return adain


def _check_settings(method: Any, alpha: Any, steps: Any, content_weight: Any) -> dict:
    return {
        "method": check_choice(method, "method", METHODS),
        "alpha": check_fraction(alpha, "alpha"),
        "steps": check_int(steps, "steps", low=1),
        "content_weight": check_real(content_weight, "content_weight", low=0.0),
    }


def stylize(
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    method: str = "fourier",
    alpha: float = 1.0,
    adain: AdaIN | None = None,
    steps: int = 50,
    content_weight: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Give ``content`` the texture of ``style`` while keeping its shape.

    Backends (``method``):

    - ``"fourier"`` (default, weight-free, exact, fast): per channel, the amplitude
      spectrum of the style with the phase of the content, ``alpha`` interpolating the
      amplitude. Keeps: edges and layout (the phase carries them), so shape survives.
      Transfers: colour balance, contrast and the global power at each spatial
      frequency and orientation. Loses: anything local or spatially arranged about the
      style (the phase, where its texture elements sit); textures come out as
      stationary, noise-like overlays, not painted strokes. ``generator`` is unused.
    - ``"random_features"`` (weight-free, iterative): Adam on the pixels, from the
      content, matching the per-channel mean/std of every layer of a fixed random
      3-layer CNN (filters drawn from ``generator``; ``None`` uses a fixed seed, 0) to
      the style's, with a content loss on the deepest layer (``content_weight``).
      Transfers colour and local texture energy at the filters' scales (3 to ~20
      pixels); keeps coarse shape. Loses: object-level texture semantics of trained
      features; costs ``steps`` forward/backward passes.
    - ``"adain"`` (needs weights): Huang & Belongie's VGG encoder + AdaIN + decoder, as
      used for Stylized-ImageNet; pass ``adain=load_adain(...)``. The best quality;
      the decoder blurs fine content detail.

    Args:
        content: ``(N, C, H, W)`` images in ``[0, 1]``.
        style: ``(N, C, H', W')`` or ``(1, C, H', W')`` (shared) style images on the same
            device/dtype. ``"fourier"`` resizes them to ``H x W`` (bilinear, antialiased);
            the other backends use global statistics and take any size.
        method: ``"fourier"``, ``"random_features"`` or ``"adain"``.
        alpha: stylisation strength in ``[0, 1]``; 0 keeps the content's statistics.
        adain: the loaded :class:`AdaIN` network (``method="adain"`` only).
        steps: optimisation steps (``"random_features"`` only).
        content_weight: weight of the content loss (``"random_features"`` only).
        generator: random filters of ``"random_features"``.

    Returns:
        Stylised images like ``content``, detached, in ``[0, 1]`` (clipped). The weight-free
        backends compute float16/bfloat16 batches in float32 and return their dtype; AdaIN
        runs in the network's dtype, which must be the content's.

    Shape:
        ``content (N, C, H, W)``, ``style (N or 1, C, H', W') -> (N, C, H, W)``.

    Raises:
        TypeError: ``method="adain"`` without an :class:`AdaIN` network.
        ValueError: unknown ``method``, ``alpha`` outside ``[0, 1]``, a style batch that is
            neither 1 nor ``N``, channel, device or dtype mismatches (messages name
            ``content`` and ``style``).

    Example:
        >>> import torch
        >>> from shapebias.distortions import stylize
        >>> content, style = torch.rand(2, 3, 32, 32), torch.rand(1, 3, 48, 48)
        >>> stylize(content, style, method="fourier").shape
        torch.Size([2, 3, 32, 32])

    References:
        Huang & Belongie, ICCV 2017 (AdaIN). Geirhos et al., ICLR 2019 (Stylized-ImageNet).
        Yang & Soatto, "FDA: Fourier Domain Adaptation", CVPR 2020 (amplitude swap).
    """
    check_distortion_inputs(content, generator, "content")
    settings = _check_settings(method, alpha, steps, content_weight)
    network = _check_adain(adain, settings["method"])
    if network is not None:
        network.check_inputs(content, style, alpha)
        with torch.no_grad():
            return network(content, style, settings["alpha"])
    check_batch_like(style, content, "style", same_size=False, images_name="content")
    work, style = working_precision(content.detach()), working_precision(style.detach())
    if settings["method"] == "fourier":
        style = resize_images(style, image_size(work))
        with torch.no_grad():
            stylized = amplitude_swap(work, style, settings["alpha"]).clamp_(0, 1)
        return stylized.to(content.dtype)
    if generator is None:
        generator = torch.Generator(device=content.device).manual_seed(0)
    stylized = random_feature_stylize(
        work,
        style,
        alpha=settings["alpha"],
        steps=settings["steps"],
        content_weight=settings["content_weight"],
        generator=generator,
    )
    return stylized.to(content.dtype)


class Stylize(nn.Module):
    """Stylise each image with a style drawn from ``styles`` (module twin of :func:`stylize`).

    Args:
        styles: a :class:`StyleSource`, a ``(S, C, H, W)`` tensor or a folder of images.
        method, alpha, adain, steps, content_weight: as in :func:`stylize`.
        generator: default generator for the style draw and the backend; one passed to
            ``forward`` overrides it.

    Accepts one image ``(C, H, W)`` or a batch; the AdaIN network, if any, is a submodule
    (``.to(device)`` moves it).

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import Stylize
        >>> transform = Stylize(torch.rand(4, 3, 16, 16), method="fourier")
        >>> transform(torch.rand(3, 16, 16), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([3, 16, 16])
    """

    def __init__(
        self,
        styles: StyleSource | torch.Tensor | str | os.PathLike,
        *,
        method: str = "fourier",
        alpha: float = 1.0,
        adain: AdaIN | None = None,
        steps: int = 50,
        content_weight: float = 0.2,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.styles = styles if isinstance(styles, StyleSource) else StyleSource(styles)
        self.settings = _check_settings(method, alpha, steps, content_weight)
        self.adain = _check_adain(adain, self.settings["method"])
        self.generator = generator

    def _stylize_batch(
        self, images: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        check_distortion_inputs(images, generator)
        style = self.styles.draw(images, generator=generator)
        return stylize(images, style, adain=self.adain, generator=generator, **self.settings)

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        chosen = pick_generator(generator, self.generator)
        return per_image_or_batch(self._stylize_batch, images, chosen)

    def extra_repr(self) -> str:
        return f"{len(self.styles)} styles, method={self.settings['method']!r}"
