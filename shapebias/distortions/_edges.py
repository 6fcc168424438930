"""Canny edge maps: the package's one edge detector, and the Geirhos et al. 2019 "edge" stimuli."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skimage.feature import canny
from torch import nn

from shapebias._validation import check_images, check_real
from shapebias.distortions._checks import (
    check_distortion_inputs,
    check_sigma,
    per_image_or_batch,
)
from shapebias.distortions._color import luminance

__all__ = ["CANNY_THRESHOLDS", "Edges", "check_canny", "edge_map", "edges"]

CANNY_THRESHOLDS = (0.1, 0.2)
"""Default hysteresis thresholds ``(low, high)`` on the gradient magnitude of ``[0, 1]``
images: scikit-image's defaults (10% and 20% of the float range), stated here so that a
single given threshold is checked against the other's actual value."""


def _threshold(value: Any, name: str, default: float) -> tuple[float, str]:
    """The threshold's value (``default`` for ``None``) and how to show it in a message."""
    if value is None:
        return default, f"{name}={default:g} (the default)"
    number = check_real(value, name, low=0.0, finite=True)
    return number, f"{name}={number:g}"


def check_canny(sigma: Any, low: Any, high: Any) -> tuple[float, float, float]:
    """Check Canny's settings; return ``(sigma, low, high)`` with the defaults filled in.

    Raises:
        TypeError: a non-real setting.
        ValueError: ``sigma`` not finite and ``> 0``; a threshold negative or not finite;
            ``low > high`` after filling in :data:`CANNY_THRESHOLDS`.
    """
    sigma = check_real(sigma, "sigma", low=0.0, low_inclusive=False, finite=True)
    low_value, low_text = _threshold(low, "low_threshold", CANNY_THRESHOLDS[0])
    high_value, high_text = _threshold(high, "high_threshold", CANNY_THRESHOLDS[1])
    if low_value > high_value:
        raise ValueError(
            f"low_threshold must not exceed high_threshold, got {low_text} > {high_text}. "
            "Pass both, with low_threshold <= high_threshold."
        )
    return sigma, low_value, high_value


def edge_map(
    images: torch.Tensor,
    *,
    sigma: float,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
) -> torch.Tensor:
    """Canny edges of each image's luminance as a bool ``(N, H, W)`` on the images' device.

    The one edge detector of the package, behind :func:`edges` (the stimuli) and
    :func:`~shapebias.metrics.image_edges` (the saliency metric): the BT.601 luminance of
    :func:`~shapebias.distortions._color.luminance` (a copy of single-channel images), then
    :func:`skimage.feature.canny` per image in float64 on the CPU. Checks the images and
    the settings (:func:`check_canny`; ``sigma`` must fit the image, see
    :func:`~shapebias.distortions._checks.check_sigma`).

    Shape:
        ``(N, C, H, W) -> (N, H, W)``, ``C`` in ``{1, 3}``.
    """
    check_images(images)
    sigma, low, high = check_canny(sigma, low_threshold, high_threshold)
    check_sigma(sigma, images, mirror=False)
    gray = luminance(images.detach()).squeeze(1).cpu().double().numpy()
    maps = np.stack(
        [canny(image, sigma=sigma, low_threshold=low, high_threshold=high) for image in gray]
    )
    return torch.from_numpy(maps).to(images.device)


def edges(
    images: torch.Tensor,
    *,
    sigma: float = 2.0,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Canny edges of the luminance, drawn as black lines (0) on white (1).

    Runs :func:`edge_map` (scikit-image's Canny on the BT.601 luminance, image by image on
    the CPU in float64) and returns the map repeated over the channels on the images'
    device and dtype. Not differentiable (the result carries no gradient). The default
    ``sigma = 2`` draws the object's outline and drops fine texture, as the stimuli need;
    :func:`~shapebias.metrics.image_edges` defaults to the finer ``sigma = 1``.

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``, ``C`` in ``{1, 3}``.
        sigma: standard deviation of Canny's Gaussian smoothing, in pixels, ``> 0``; its
            4-sigma kernel radius must be smaller than ``min(H, W)``.
        low_threshold: lower hysteresis threshold on the gradient magnitude
            (``None``: 0.1, scikit-image's default, see :data:`CANNY_THRESHOLDS`).
        high_threshold: upper hysteresis threshold (``None``: 0.2).
        generator: accepted for the uniform distortion protocol and ignored.

    Returns:
        Binary edge images, same shape, dtype and device.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Raises:
        ValueError: ``sigma`` not finite and positive or too wide for the images, negative
            or non-finite thresholds, ``low_threshold > high_threshold`` (defaults
            included), ``C`` not 1 or 3.

    Example:
        >>> import torch
        >>> from shapebias.distortions import edges
        >>> square = torch.zeros(1, 1, 32, 32)
        >>> square[..., 8:24, 8:24] = 1.0
        >>> out = edges(square, sigma=1.0)
        >>> bool((out[0, 0, 6:10, 16] == 0).any()), bool(out[0, 0, 16, 16] == 1)
        (True, True)

    References:
        Canny, "A Computational Approach to Edge Detection", TPAMI 1986. Geirhos et al.,
        "ImageNet-trained CNNs are biased towards texture", ICLR 2019.
    """
    check_distortion_inputs(images, generator)
    maps = edge_map(images, sigma=sigma, low_threshold=low_threshold, high_threshold=high_threshold)
    lines = (~maps).to(images.dtype)
    return lines.unsqueeze(1).expand_as(images).contiguous()


class Edges(nn.Module):
    """Module twin of :func:`edges`; accepts one image ``(C, H, W)`` or a batch.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import Edges
        >>> Edges(sigma=1.0)(torch.rand(3, 16, 16)).shape
        torch.Size([3, 16, 16])
    """

    def __init__(
        self,
        *,
        sigma: float = 2.0,
        low_threshold: float | None = None,
        high_threshold: float | None = None,
    ) -> None:
        super().__init__()
        self.sigma, _, _ = check_canny(sigma, low_threshold, high_threshold)
        self.low_threshold = low_threshold
        self.high_threshold = high_threshold

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Edge images; ``generator`` is accepted and ignored (deterministic)."""
        return per_image_or_batch(
            edges,
            images,
            sigma=self.sigma,
            low_threshold=self.low_threshold,
            high_threshold=self.high_threshold,
            generator=generator,
        )

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}"
