"""Colour and contrast probes (Geirhos et al. 2018): grayscale and contrast reduction."""

from __future__ import annotations

import torch
from torch import nn

from shapebias._validation import check_real
from shapebias.distortions._checks import check_distortion_inputs, per_image_or_batch

__all__ = ["Contrast", "Grayscale", "contrast", "grayscale", "luminance"]

# ITU-R BT.601 luma weights, as in torchvision's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """The ``(N, 1, H, W)`` luminance of RGB images (a copy of single-channel images).

    BT.601 weights (torchvision's ``rgb_to_grayscale``), the one luminance of the package:
    :func:`grayscale`, :func:`~shapebias.distortions.edges` and
    :func:`~shapebias.metrics.image_edges` all use it.
    """
    if images.shape[1] == 1:
        return images.clone()
    if images.shape[1] != 3:
        raise ValueError(
            f"images must have 1 or 3 channels for a luminance, got {images.shape[1]} "
            f"(shape {tuple(images.shape)})."
        )
    weights = torch.tensor(_LUMA, dtype=images.dtype, device=images.device)
    return torch.einsum("nchw,c->nhw", images, weights).unsqueeze(1).clamp_(0, 1)


def grayscale(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace colour by luminance (BT.601 weights), keeping the number of channels.

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]`` with ``C`` in ``{1, 3}``.
        generator: accepted for the uniform distortion protocol and ignored.

    Returns:
        Gray images of the same shape (the luminance repeated over channels).

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Raises:
        ValueError: ``C`` is neither 1 nor 3.

    Example:
        >>> import torch
        >>> from shapebias.distortions import grayscale
        >>> grayscale(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten()
        tensor([0.2990, 0.2990, 0.2990])
    """
    check_distortion_inputs(images, generator)
    return luminance(images).expand_as(images).contiguous()


def _check_factor(factor: object) -> float:
    return check_real(factor, "factor", low=0.0, finite=True)


def contrast(
    images: torch.Tensor, factor: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Scale the contrast around mid-grey: ``clip(factor * v + (1 - factor) / 2, 0, 1)``.

    ``factor < 1`` lowers the contrast (Geirhos et al. 2018 use levels down to 0.01),
    ``factor = 1`` is the identity, ``factor > 1`` raises it (then clipping happens).

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``.
        factor: contrast factor, finite and ``>= 0``.
        generator: accepted for the uniform distortion protocol and ignored.

    Returns:
        Images of the same shape, dtype and device.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Raises:
        ValueError: ``factor`` negative, NaN or infinite.

    Example:
        >>> import torch
        >>> from shapebias.distortions import contrast
        >>> contrast(torch.tensor([0.0, 1.0]).view(1, 1, 1, 2), 0.1).flatten()
        tensor([0.4500, 0.5500])

    References:
        Geirhos et al., "Generalisation in humans and deep neural networks", NeurIPS 2018.
    """
    check_distortion_inputs(images, generator)
    factor = _check_factor(factor)
    return images.mul(factor).add_((1.0 - factor) / 2).clamp_(0, 1)


class Grayscale(nn.Module):
    """Module twin of :func:`grayscale`; accepts one image ``(C, H, W)`` or a batch.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import Grayscale
        >>> Grayscale()(torch.rand(3, 4, 4)).shape
        torch.Size([3, 4, 4])
    """

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Gray ``images``; ``generator`` is accepted and ignored (deterministic)."""
        return per_image_or_batch(grayscale, images, generator=generator)


class Contrast(nn.Module):
    """Module twin of :func:`contrast`; accepts one image ``(C, H, W)`` or a batch.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import Contrast
        >>> Contrast(0.5)(torch.ones(3, 4, 4)).max()
        tensor(0.7500)
    """

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = _check_factor(factor)

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Scale the contrast; ``generator`` is accepted and ignored (deterministic)."""
        return per_image_or_batch(contrast, images, self.factor, generator=generator)

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"
