"""Checks and small helpers shared by the distortions (validation lives in one place)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from shapebias._validation import check_generator, check_images, check_real

__all__ = [
    "check_batch_like",
    "check_fraction",
    "check_random_inputs",
    "per_image_or_batch",
    "pick_generator",
]


def check_fraction(value: Any, name: str) -> float:
    """A real number in ``[0, 1]`` (``alpha``, noise ``width``, ...)."""
    return check_real(value, name, low=0.0, high=1.0)


def check_batch_like(
    other: Any, images: torch.Tensor, name: str, *, same_size: bool = True
) -> None:
    """Check a second image batch against ``images``: same device, dtype, channels (and size).

    Its batch size must be 1 (broadcast) or equal to ``images``' batch size.
    """
    check_images(other, name)
    n, c, h, w = images.shape
    if other.device != images.device or other.dtype != images.dtype:
        raise ValueError(
            f"{name} is a {other.dtype} tensor on {other.device} but images are {images.dtype} "
            f"on {images.device}; convert it with {name}.to(images)."
        )
    if other.shape[0] not in (1, n) or other.shape[1] != c:
        raise ValueError(
            f"{name} must have shape (1 or {n}, {c}, H, W) to pair with images of shape "
            f"{tuple(images.shape)}, got {tuple(other.shape)}."
        )
    if same_size and other.shape[-2:] != (h, w):
        raise ValueError(
            f"{name} must have the images' size {h}x{w}, got {other.shape[-2]}x{other.shape[-1]}."
        )


def pick_generator(
    call: torch.Generator | None, stored: torch.Generator | None
) -> torch.Generator | None:
    """A generator passed at call time overrides the one stored in a Module."""
    return call if call is not None else stored


def per_image_or_batch(fn: Callable[..., torch.Tensor], images: Any, *args: Any, **kwargs: Any):
    """Apply a batch function to a batch ``(N, C, H, W)`` or to one image ``(C, H, W)``."""
    if isinstance(images, torch.Tensor) and images.ndim == 3:
        return fn(images.unsqueeze(0), *args, **kwargs).squeeze(0)
    return fn(images, *args, **kwargs)


def check_random_inputs(images: Any, generator: Any) -> None:
    """The checks every random distortion runs first."""
    check_images(images)
    check_generator(generator, images)
