"""Edge maps (Geirhos et al. 2019 "edge" stimuli): Canny edges, dark lines on white."""

from __future__ import annotations

import numpy as np
import torch
from skimage.feature import canny
from torch import nn

from shapebias._validation import check_images, check_real
from shapebias.distortions._checks import per_image_or_batch
from shapebias.distortions._color import luminance

__all__ = ["Edges", "edges"]


def _check_thresholds(low: float | None, high: float | None) -> None:
    if low is not None:
        check_real(low, "low_threshold", low=0.0)
    if high is not None:
        check_real(high, "high_threshold", low=0.0)
    if low is not None and high is not None and low > high:
        raise ValueError(f"low_threshold must not exceed high_threshold, got {low:g} > {high:g}.")


def edges(
    images: torch.Tensor,
    *,
    sigma: float = 2.0,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
) -> torch.Tensor:
    """Canny edges of the luminance, drawn as black lines (0) on white (1).

    Runs :func:`skimage.feature.canny` image by image on the CPU (in float64) and
    returns the map repeated over the channels on the images' device and dtype. Not
    differentiable (the result carries no gradient).

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``, ``C`` in ``{1, 3}``.
        sigma: standard deviation of Canny's Gaussian smoothing, in pixels, ``> 0``.
        low_threshold: lower hysteresis threshold on the gradient magnitude
            (scikit-image's default, 10% of the dtype range, when ``None``).
        high_threshold: upper hysteresis threshold (default: 20% of the dtype range).

    Returns:
        Binary edge images, same shape, dtype and device.

    Raises:
        ValueError: ``sigma <= 0``, negative or inverted thresholds, ``C`` not 1 or 3.

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
    check_images(images)
    sigma = check_real(sigma, "sigma", low=0.0, low_inclusive=False)
    _check_thresholds(low_threshold, high_threshold)
    gray = luminance(images.detach()).squeeze(1).cpu().double().numpy()
    maps = np.stack(
        [
            canny(image, sigma=sigma, low_threshold=low_threshold, high_threshold=high_threshold)
            for image in gray
        ]
    )
    lines = torch.from_numpy(~maps).to(device=images.device, dtype=images.dtype)
    return lines.unsqueeze(1).expand_as(images).contiguous()


class Edges(nn.Module):
    """Module twin of :func:`edges`; accepts one image ``(C, H, W)`` or a batch."""

    def __init__(
        self,
        *,
        sigma: float = 2.0,
        low_threshold: float | None = None,
        high_threshold: float | None = None,
    ) -> None:
        super().__init__()
        self.sigma = check_real(sigma, "sigma", low=0.0, low_inclusive=False)
        _check_thresholds(low_threshold, high_threshold)
        self.low_threshold = low_threshold
        self.high_threshold = high_threshold

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return per_image_or_batch(
            edges,
            images,
            sigma=self.sigma,
            low_threshold=self.low_threshold,
            high_threshold=self.high_threshold,
        )

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}"
