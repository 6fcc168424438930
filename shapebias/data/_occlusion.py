"""A straight-edged occluder that hides a stated share of an object's area."""

from __future__ import annotations

import numpy as np

__all__ = ["occluder_coverage", "occluder_offset"]

_BISECTION_STEPS = 30


def occluder_coverage(x: np.ndarray, y: np.ndarray, angle: float, offset: float) -> np.ndarray:
    """Antialiased coverage in [0, 1] of the half-plane ``x cos(angle) + y sin(angle) > offset``.

    Args:
        x, y: pixel-centre coordinates (float64, matching shapes).
        angle: direction of the occluder's inward normal in radians.
        offset: position of its edge along that normal, in pixels.
    """
    projection = x * np.cos(angle) + y * np.sin(angle)
    projection += 0.5 - offset
    return np.clip(projection, 0.0, 1.0, out=projection)


def occluder_offset(
    mask: np.ndarray, x: np.ndarray, y: np.ndarray, angle: float, share: float
) -> float:
    """The edge offset at which the occluder covers ``share`` of ``mask``'s area.

    The covered area ``sum(mask * occluder_coverage(...))`` falls monotonically as the
    offset grows, so a bisection over the offset finds it to far below a pixel.

    Args:
        mask: object coverage in [0, 1] at the pixels ``(x, y)``.
        x, y: pixel-centre coordinates.
        angle: the occluder's direction (see :func:`occluder_coverage`).
        share: the share of the object's area to hide, in ``[0, 1)``.
    """
    target = share * float(mask.sum())
    projection = x * np.cos(angle) + y * np.sin(angle)
    low, high = float(projection.min()) - 1.0, float(projection.max()) + 1.0
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        covered = float((mask * occluder_coverage(x, y, angle, middle)).sum())
        low, high = (middle, high) if covered > target else (low, middle)
    return (low + high) / 2
