"""Real photographs and textures that ship inside scikit-image (nothing is downloaded)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from shapebias._images import to_unit_rgb
from shapebias._validation import check_choice, check_int
from shapebias.data._levels import to_8bit_levels

__all__ = ["SAMPLE_NAMES", "sample_images"]

SAMPLE_NAMES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "brick", "grass", "gravel")
"""Names accepted by :func:`sample_images`: five photographs, then three real textures."""


@lru_cache(maxsize=len(SAMPLE_NAMES))
def _load(name: str) -> torch.Tensor:
    from skimage import data

    source = f"sample image {name!r} (skimage.data.{name})"
    try:
        array = np.asarray(getattr(data, name)())
    except Exception as error:  # a missing or damaged data file; skimage may try to fetch it
        detail = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
        raise ValueError(
            f"{source} could not be read ({type(error).__name__}: {detail}). The file ships "
            "with scikit-image: reinstall it (pip install --force-reinstall scikit-image)."
        ) from error
    return to_unit_rgb(array, source)


def _square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop to a square, resize (bilinear, antialiased) to ``size x size`` in float64,
    and round to 8-bit levels, so the result is the same on every CPU."""
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[:, top : top + side, left : left + side]
    resized = F.interpolate(
        square[None].double(), size=(size, size), mode="bilinear", antialias=True,
        align_corners=False,
    )  # fmt: skip
    return to_8bit_levels(resized[0])


def sample_images(
    size: int | None = None, *, names: Sequence[str] | None = None
) -> dict[str, torch.Tensor]:
    """Real photographs and textures from :mod:`skimage.data` as ``[0, 1]`` tensors.

    Photographs: ``astronaut`` (512x512), ``camera`` (512x512, grayscale), ``chelsea`` (a
    cat, 300x451), ``coffee`` (400x600), ``rocket`` (427x640). Real textures:
    ``brick``, ``grass``, ``gravel`` (512x512, grayscale). All ship inside the
    scikit-image package, so nothing is downloaded. Grayscale images are repeated over
    three channels.

    Args:
        size: if given, each image is centre-cropped to a square and resized
            (bilinear, antialiased, in float64, rounded to 8-bit levels ``k / 255`` so that
            every CPU gives the same values) to ``size x size``, so the values stack into
            a batch.
        names: which images, in that order (default: all of ``SAMPLE_NAMES``).

    Returns:
        A dict ``name -> (3, H, W)`` float32 tensor in ``[0, 1]`` (fresh tensors; changing
        them does not change later calls).

    Shape:
        Each value ``(3, size, size)``, or the picture's own ``(3, H, W)`` without ``size``.

    Raises:
        ValueError: an unknown name or ``size < 1``.

    Example:
        >>> import torch
        >>> from shapebias.data import sample_images
        >>> images = sample_images(64, names=["astronaut", "brick"])
        >>> torch.stack(list(images.values())).shape
        torch.Size([2, 3, 64, 64])
    """
    if size is not None:
        check_int(size, "size", low=1)
    chosen = SAMPLE_NAMES if names is None else tuple(names)
    for name in chosen:
        check_choice(name, "names", SAMPLE_NAMES)
    return {
        name: _load(name).clone() if size is None else _square(_load(name), size) for name in chosen
    }
