"""Checks and small helpers shared by the distortions (validation lives in one place)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from shapebias._validation import check_generator, check_images, check_real

__all__ = [
    "TRUNCATE",
    "check_batch_like",
    "check_distortion_inputs",
    "check_fraction",
    "check_out",
    "check_sigma",
    "kernel_radius",
    "per_image_or_batch",
    "pick_generator",
    "working_precision",
]


#: Gaussian kernels are truncated at this many standard deviations (as scipy.ndimage's
#: ``gaussian_filter``, which scikit-image's Canny uses).
TRUNCATE = 4.0


def check_fraction(value: Any, name: str) -> float:
    """A real number in ``[0, 1]`` (``alpha``, noise ``width``, ...)."""
    return check_real(value, name, low=0.0, high=1.0)


def check_batch_like(
    other: Any,
    images: torch.Tensor,
    name: str,
    *,
    same_size: bool = True,
    images_name: str = "images",
) -> None:
    """Check a second image batch against ``images``: same device, dtype, channels (and size).

    Its batch size must be 1 (broadcast) or equal to ``images``' batch size. Messages call
    the two ``name`` and ``images_name``.
    """
    check_images(other, name)
    n, c, h, w = images.shape
    if other.device != images.device or other.dtype != images.dtype:
        raise ValueError(
            f"{name} is a {other.dtype} tensor on {other.device} but {images_name} is "
            f"{images.dtype} on {images.device}; convert it with {name}.to({images_name})."
        )
    if other.shape[0] not in (1, n) or other.shape[1] != c:
        raise ValueError(
            f"{name} must have shape (1 or {n}, {c}, H, W) to pair with {images_name} of shape "
            f"{tuple(images.shape)}, got {tuple(other.shape)}."
        )
    if same_size and other.shape[-2:] != (h, w):
        raise ValueError(
            f"{name} must have the size of {images_name}, {h}x{w}, got "
            f"{other.shape[-2]}x{other.shape[-1]}."
        )


def kernel_radius(sigma: float) -> int:
    """Half-width in pixels of a Gaussian kernel truncated at :data:`TRUNCATE` sigmas."""
    return int(TRUNCATE * sigma + 0.5)


def check_sigma(sigma: float, images: torch.Tensor, *, mirror: bool) -> None:
    """Refuse a (checked, finite) Gaussian ``sigma`` whose kernel is wider than the images.

    With ``mirror`` padding the kernel radius must be below ``min(H, W)`` (the pad
    reflects inside the image); otherwise (Canny's smoothing) it may reach ``max(H, W)``,
    beyond which the blurred image is flat anyway. Called before any kernel is built, so
    a huge ``sigma`` is an error, not a many-gigabyte allocation.
    """
    radius, (height, width) = kernel_radius(sigma), images.shape[-2:]
    limit = min(height, width) - 1 if mirror else max(height, width)
    if radius > limit:
        raise ValueError(
            f"sigma={sigma:g} needs a {2 * radius + 1}-pixel Gaussian kernel, too wide for "
            f"images of size {height}x{width}; use sigma < {(limit + 0.5) / TRUNCATE:.3g}"
            + (" (for a stronger low-pass, an ideal filter: radius=...)." if mirror else ".")
        )


def working_precision(images: torch.Tensor) -> torch.Tensor:
    """``images`` in float32 if they are float16/bfloat16 (FFTs and optimisers need it), else as is.

    Callers cast their result back with ``.to(images.dtype)``.
    """
    return images.float() if images.dtype in (torch.float16, torch.bfloat16) else images


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


def check_distortion_inputs(images: Any, generator: Any, name: str = "images") -> None:
    """The checks every distortion runs first: the images and the ``generator``.

    Every distortion takes ``generator=None`` keyword-only so that callers
    (:class:`~shapebias.distortions.DistortedDataset`, ``distortion_accuracy``) pass it
    without looking at signatures; deterministic ones check it and ignore it.
    """
    check_images(images, name)
    check_generator(generator, images)


def _byte_span(tensor: torch.Tensor) -> tuple[int, int]:
    """The first and one-past-last byte ``tensor`` can touch (non-negative strides)."""
    extents = zip(tensor.shape, tensor.stride(), strict=True)
    last = sum((size - 1) * stride for size, stride in extents)
    start = tensor.data_ptr()
    return start, start + (last + 1) * tensor.element_size()


def check_out(out: Any, images: torch.Tensor) -> None:
    """Check an ``out=`` tensor: ``images``' shape, dtype and device; ``images`` itself
    (in place) or memory that does not overlap it; not tracked by autograd.
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor or None, got {type(out).__name__}.")
    if (out.shape, out.dtype, out.device) != (images.shape, images.dtype, images.device):
        raise ValueError(
            f"out must match images: shape {tuple(images.shape)}, {images.dtype} on "
            f"{images.device}; got shape {tuple(out.shape)}, {out.dtype} on {out.device}. "
            "Allocate it with torch.empty_like(images), or pass out=images to work in place."
        )
    if torch.is_grad_enabled() and (out.requires_grad or images.requires_grad):
        raise ValueError(
            "out= is not differentiable: images or out requires grad. Call without out= "
            "(or under torch.no_grad()) to keep the graph."
        )
    same = out.data_ptr() == images.data_ptr() and out.stride() == images.stride()
    if not same and out.untyped_storage().data_ptr() == images.untyped_storage().data_ptr():
        (start, end), (other_start, other_end) = _byte_span(out), _byte_span(images)
        if start < other_end and other_start < end:
            raise ValueError(
                "out overlaps images without being the same view; pass out=images to work "
                "in place, or a separate tensor (torch.empty_like(images))."
            )
