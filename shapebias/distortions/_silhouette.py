"""Silhouettes (Geirhos et al. 2019): the object's mask filled black on a white ground."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from shapebias._validation import check_real
from shapebias.distortions._checks import check_distortion_inputs

__all__ = ["Silhouette", "silhouette"]


def _check_masks(masks: Any, images: torch.Tensor) -> torch.Tensor:
    """Return ``masks`` as ``(N, 1, H, W)`` in the images' dtype."""
    n, _, height, width = images.shape
    if not isinstance(masks, torch.Tensor):
        raise TypeError(f"masks must be a torch.Tensor, got {type(masks).__name__}.")
    if masks.ndim == 3:
        masks = masks.unsqueeze(1)
    if masks.shape != (n, 1, height, width):
        raise ValueError(
            f"masks must have shape ({n}, 1, {height}, {width}) or ({n}, {height}, {width}) "
            f"to match images {tuple(images.shape)}, got {tuple(masks.shape)}."
        )
    if masks.device != images.device:
        raise ValueError(f"masks are on {masks.device} but images are on {images.device}.")
    if masks.dtype == torch.bool:
        return masks.to(images.dtype)
    if not masks.is_floating_point():
        raise TypeError(f"masks must be bool or floating in [0, 1], got {masks.dtype}.")
    lo, hi = torch.aminmax(masks.detach())
    if float(lo) < 0 or float(hi) > 1:
        raise ValueError(f"masks must lie in [0, 1], got [{float(lo):.3g}, {float(hi):.3g}].")
    return masks.to(images.dtype)


def silhouette(
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    foreground: float = 0.0,
    background: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill the object mask with ``foreground`` and everything else with ``background``.

    All texture and interior detail is gone; only the outline's shape is left. A soft
    (floating) mask blends linearly: ``background + (foreground - background) * mask``.
    ``images`` gives the output's shape, dtype and device.

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``.
        masks: ``(N, H, W)`` or ``(N, 1, H, W)`` bool, or floating in ``[0, 1]``; 1 marks
            the object.
        foreground: value of object pixels, in ``[0, 1]``.
        background: value of the other pixels, in ``[0, 1]``.
        generator: accepted for the uniform distortion protocol and ignored.

    Returns:
        Silhouette images, same shape, dtype and device as ``images``.

    Shape:
        ``images (N, C, H, W)``, ``masks (N, H, W)`` or ``(N, 1, H, W) -> (N, C, H, W)``.

    Raises:
        TypeError: ``masks`` is not a bool or floating tensor.
        ValueError: ``masks`` of the wrong shape, device or range.

    Example:
        >>> import torch
        >>> from shapebias.distortions import silhouette
        >>> mask = torch.zeros(1, 4, 4, dtype=torch.bool)
        >>> mask[:, 1:3, 1:3] = True
        >>> silhouette(torch.rand(1, 3, 4, 4), mask)[0, 0]
        tensor([[1., 1., 1., 1.],
                [1., 0., 0., 1.],
                [1., 0., 0., 1.],
                [1., 1., 1., 1.]])

    References:
        Geirhos et al., "ImageNet-trained CNNs are biased towards texture", ICLR 2019.
    """
    check_distortion_inputs(images, generator)
    masks = _check_masks(masks, images)
    foreground = check_real(foreground, "foreground", low=0.0, high=1.0)
    background = check_real(background, "background", low=0.0, high=1.0)
    filled = masks.mul(foreground - background).add_(background)
    return filled.expand_as(images).contiguous()


class Silhouette(nn.Module):
    """Module twin of :func:`silhouette`, called as ``module(images, masks)``.

    Accepts one image ``(C, H, W)`` with a mask ``(H, W)`` or a batch.

    Shape:
        ``(N, C, H, W)`` with ``(N, H, W)`` masks, or ``(C, H, W)`` with ``(H, W)``; kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import Silhouette
        >>> Silhouette()(torch.rand(3, 4, 4), torch.ones(4, 4, dtype=torch.bool)).unique()
        tensor([0.])
    """

    def __init__(self, *, foreground: float = 0.0, background: float = 1.0) -> None:
        super().__init__()
        self.foreground = check_real(foreground, "foreground", low=0.0, high=1.0)
        self.background = check_real(background, "background", low=0.0, high=1.0)

    def forward(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Silhouettes of ``masks``; ``generator`` is accepted and ignored (deterministic)."""
        single = isinstance(images, torch.Tensor) and images.ndim == 3
        if single:
            images = images.unsqueeze(0)
            masks = masks.unsqueeze(0) if isinstance(masks, torch.Tensor) else masks
        filled = silhouette(
            images,
            masks,
            foreground=self.foreground,
            background=self.background,
            generator=generator,
        )
        return filled.squeeze(0) if single else filled
