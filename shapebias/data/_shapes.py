"""Procedural shapes as signed distance functions, rendered as antialiased masks.

Every shape lives in the unit disk of its own frame (its farthest point is at most 1
from the centre). A shape is a signed distance function ``sdf(points) -> distance``
(negative inside); because placing a shape is a rigid motion plus a uniform scale, the
distance in pixels is the distance in shape units times the radius in pixels, and the
mask ``clip(0.5 - distance_px, 0, 1)`` is antialiased over one pixel.

A shape can be *deformed* by a smooth radial warp: the point at angle ``theta`` (in the
shape's frame) moves from the centre by the factor
``g(theta) = 1 + sum_k a_k cos(k theta + phi_k)`` for ``k = 2, 3, 4``, with
``sum_k |a_k|`` at most the deformation amplitude (see :func:`deformation_harmonics`).
The warped shape is evaluated as ``g * sdf(p / g)``, which keeps the outline exact and
the distance first-order correct near it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DEFORMATION_ORDERS", "SHAPES", "deformation_harmonics", "shape_mask"]

DEFORMATION_ORDERS = (2, 3, 4)
"""The angular frequencies of the boundary warp (1 would only move the centre)."""

Sdf = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _circle(cx: float, cy: float, radius: float) -> Sdf:
    return lambda x, y: np.sqrt((x - cx) ** 2 + (y - cy) ** 2) - radius


def _convex(*vertices: tuple[float, float]) -> Sdf:
    """Convex polygon (vertices counter-clockwise in x-right, y-up axes) as max of half-planes."""
    corners = np.asarray(vertices, dtype=np.float64)
    edges = np.roll(corners, -1, axis=0) - corners
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = np.einsum("ij,ij->i", normals, corners)
    if np.any(normals @ corners.mean(0) - offsets >= 0):
        raise ValueError("polygon vertices must be convex and counter-clockwise")
    nx, ny = (normals[:, i, None] for i in (0, 1))
    shift = offsets[:, None]
    return lambda x, y: (nx * x + ny * y - shift).max(axis=0)


def _box(x0: float, y0: float, x1: float, y1: float) -> Sdf:
    return _convex((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _union(*parts: Sdf) -> Sdf:
    def sdf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        distance = parts[0](x, y)
        for part in parts[1:]:
            np.minimum(distance, part(x, y), out=distance)
        return distance

    return sdf


def _subtract(kept: Sdf, removed: Sdf) -> Sdf:
    return lambda x, y: np.maximum(kept(x, y), -removed(x, y))


def _annulus(radius: float, half_width: float) -> Sdf:
    return lambda x, y: np.abs(np.sqrt(x * x + y * y) - radius) - half_width


def _ellipse(a: float, b: float) -> Sdf:
    """First-order distance to an axis-aligned ellipse (exact on the outline)."""

    def sdf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        k0 = np.sqrt((x / a) ** 2 + (y / b) ** 2)
        k1 = np.sqrt((x / a**2) ** 2 + (y / b**2) ** 2)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)

    return sdf


def _star(points: int, outer: float, inner: float) -> Sdf:
    """A star with a tip at the top: fold the plane into one half-sector, measure to one edge."""
    sector = 2 * np.pi / points
    tip = np.array([outer, 0.0])
    edge = inner * np.array([np.cos(sector / 2), np.sin(sector / 2)]) - tip
    edge_sq = float(edge @ edge)

    def sdf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        angle = np.abs(np.mod(np.arctan2(x, y) + sector / 2, sector) - sector / 2)
        radius = np.sqrt(x * x + y * y)
        qx, qy = radius * np.cos(angle) - tip[0], radius * np.sin(angle)
        along = np.clip((qx * edge[0] + qy * edge[1]) / edge_sq, 0.0, 1.0)
        distance = np.sqrt((qx - along * edge[0]) ** 2 + (qy - along * edge[1]) ** 2)
        outside = edge[0] * qy - edge[1] * qx < 0
        return np.where(outside, distance, -distance)

    return sdf


def _heart() -> Sdf:
    square = _convex((0.0, -0.83), (0.7, -0.13), (0.0, 0.57), (-0.7, -0.13))
    return _union(square, _circle(-0.35, 0.22, 0.495), _circle(0.35, 0.22, 0.495))


_SDFS: dict[str, Sdf] = {
    "circle": _circle(0.0, 0.0, 0.85),
    "square": _box(-0.68, -0.68, 0.68, 0.68),
    "triangle": _convex((0.0, 1.0), (-0.866, -0.5), (0.866, -0.5)),
    "star": _star(5, 1.0, 0.45),
    "cross": _union(_box(-0.95, -0.3, 0.95, 0.3), _box(-0.3, -0.95, 0.3, 0.95)),
    "heart": _heart(),
    "crescent": _subtract(_circle(0.0, 0.0, 0.9), _circle(0.45, 0.0, 0.72)),
    "ring": _annulus(0.68, 0.25),
    "arrow": _union(
        _box(-0.95, -0.22, 0.35, 0.22), _convex((0.1, -0.65), (0.95, 0.0), (0.1, 0.65))
    ),
    "ell": _union(_box(-0.7, -0.8, -0.15, 0.8), _box(-0.7, -0.8, 0.7, -0.25)),
    "ellipse": _ellipse(0.95, 0.48),
    "bowtie": _union(
        _convex((-0.9, -0.75), (0.15, 0.0), (-0.9, 0.75)),
        _convex((0.9, 0.75), (-0.15, 0.0), (0.9, -0.75)),
    ),
}
"""Shape name -> signed distance function in unit-disk coordinates, in class order."""

SHAPES = tuple(_SDFS)
"""Shape names in class order: class ``k`` draws ``SHAPES[k]``."""


def deformation_harmonics(amplitude: float, rng: np.random.Generator) -> tuple[float, ...]:
    """Random warp coefficients ``(a_2, phi_2, a_3, phi_3, a_4, phi_4)``, ``sum |a_k| = amplitude``.

    The weights are uniform on ``[-1, 1]`` and rescaled so that their absolute values sum
    to ``amplitude``; the phases are uniform in ``[0, 2 pi)``. The warp factor thus stays
    in ``[1 - amplitude, 1 + amplitude]``.
    """
    weights = rng.uniform(-1.0, 1.0, size=len(DEFORMATION_ORDERS))
    weights *= amplitude / max(float(np.abs(weights).sum()), 1e-12)
    phases = rng.uniform(0.0, 2 * np.pi, size=len(DEFORMATION_ORDERS))
    return tuple(float(v) for pair in zip(weights, phases, strict=True) for v in pair)


def _warp(u: np.ndarray, v: np.ndarray, harmonics: tuple[float, ...]) -> np.ndarray:
    """The factor ``g(theta)`` at the points ``(u, v)`` of the shape's frame."""
    theta = np.arctan2(v, u)
    factor = np.ones_like(u)
    for order, (weight, phase) in zip(
        DEFORMATION_ORDERS, zip(harmonics[::2], harmonics[1::2], strict=True), strict=True
    ):
        factor += weight * np.cos(order * theta + phase)
    return factor


def shape_mask(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    centre: tuple[float, float],
    radius: float,
    rotation: float,
    deformation: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Antialiased coverage in [0, 1] of shape ``name`` at pixel centres ``(x, y)``.

    Args:
        name: one of :data:`SHAPES`.
        x, y: pixel-centre coordinates (any matching shapes, float64).
        centre: shape centre in pixels ``(x, y)``.
        radius: radius of the shape's unit disk in pixels.
        rotation: rotation angle in radians (a vertex ``v`` of the shape lands at
            ``centre + radius * R(rotation) v`` in pixel coordinates).
        deformation: warp coefficients from :func:`deformation_harmonics`, or ``None``
            for the undeformed shape.
    """
    cos, sin = np.cos(rotation) / radius, np.sin(rotation) / radius
    dx, dy = x - centre[0], y - centre[1]
    u, v = dx * cos + dy * sin, dy * cos - dx * sin
    if deformation is None:
        distance = _SDFS[name](u, v)
    else:
        factor = _warp(u, v, deformation)
        distance = _SDFS[name](u / factor, v / factor) * factor
    distance *= -radius
    distance += 0.5
    return np.clip(distance, 0.0, 1.0, out=distance)
