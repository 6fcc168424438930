"""Threat models: the L-inf and L2 balls, their projections, random starts and ascent steps.

Every function works per sample on ``(N, C, H, W)`` perturbations with budgets of
shape ``(N, 1, 1, 1)``, so one batch may mix budgets. A ball may be intersected with a
radial frequency band (:func:`project_band`).
"""

from __future__ import annotations

import torch

from shapebias._spectrum import band_project
from shapebias._validation import check_eps, check_perturbation

__all__ = [
    "NORMS",
    "ascent_step",
    "project",
    "project_band",
    "project_l2",
    "project_linf",
    "random_start",
]

NORMS = ("linf", "l2")
_TINY = 1e-12


def _per_sample_l2(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.flatten(1).norm(dim=1).view(-1, 1, 1, 1)


def _clamp_linf(delta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    return torch.maximum(torch.minimum(delta, eps), -eps)


def _scale_l2(delta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    return delta * (eps / _per_sample_l2(delta).clamp_min(_TINY)).clamp(max=1.0)


def project_linf(delta: torch.Tensor, eps: torch.Tensor | float) -> torch.Tensor:
    """Project perturbations onto the L-inf ball: clamp every pixel to ``[-eps, eps]``.

    Args:
        delta: perturbations, one per image.
        eps: budget in ``[0, 1]`` pixel units, a float or a per-sample ``(N,)`` tensor.

    Returns:
        The projected perturbations, same shape, dtype and device as ``delta``.

    Shape:
        ``delta`` ``(N, C, H, W)``; ``eps`` a float or ``(N,)``.

    Raises:
        TypeError: ``delta`` is not a floating tensor, ``eps`` not a number or tensor.
        ValueError: ``delta`` not 4-D, empty or not finite; ``eps`` negative, NaN,
            infinite, above 1 (``8`` for ``8/255``) or of the wrong shape or device.

    Example:
        >>> import torch
        >>> from shapebias.attacks import project_linf
        >>> project_linf(torch.tensor([[[[0.5, -0.01]]]]), 0.25).flatten().tolist()
        [0.25, -0.009999999776482582]
    """
    check_perturbation(delta)
    return _clamp_linf(delta, check_eps(eps, delta))


def project_l2(delta: torch.Tensor, eps: torch.Tensor | float) -> torch.Tensor:
    """Project perturbations onto the L2 ball: ``delta * min(1, eps / ||delta||)`` per sample.

    Perturbations already inside the ball are returned unchanged (the paper's code
    rescaled every perturbation onto the sphere, which is not a projection).

    Args:
        delta: perturbations, one per image.
        eps: radius of each image's ball (a norm over all its pixels, so it may exceed
            1), a float or a per-sample ``(N,)`` tensor.

    Returns:
        The projected perturbations, same shape, dtype and device as ``delta``.

    Shape:
        ``delta`` ``(N, C, H, W)``; ``eps`` a float or ``(N,)``.

    Raises:
        TypeError: ``delta`` is not a floating tensor, ``eps`` not a number or tensor.
        ValueError: ``delta`` not 4-D, empty or not finite; ``eps`` negative, NaN,
            infinite or of the wrong shape or device.

    Example:
        >>> import torch
        >>> from shapebias.attacks import project_l2
        >>> project_l2(torch.tensor([[[[3.0, 4.0]]]]), 1.0).flatten().tolist()
        [0.6000000238418579, 0.800000011920929]
    """
    check_perturbation(delta)
    return _scale_l2(delta, check_eps(eps, delta, pixel_bound=False))


def project(delta: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    """Project onto the ``norm`` ball (``"linf"`` or ``"l2"``); unchecked, for the attack loop.

    ``eps`` is an already validated ``(N, 1, 1, 1)`` budget (:func:`check_eps`).
    """
    return _clamp_linf(delta, eps) if norm == "linf" else _scale_l2(delta, eps)


DYKSTRA_STEPS = 10
"""Alternating-projection rounds of :func:`project_band` in L-inf (within ~1% of the
Euclidean projection on bands of 32x32 images; each round costs one real FFT pair)."""


def _peak(delta: torch.Tensor) -> torch.Tensor:
    return delta.flatten(1).abs().amax(1).view(-1, 1, 1, 1)


def _linf_into_band(delta: torch.Tensor, eps: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The band-limited ``P delta`` where it lies in the ball, else Dykstra then scaling.

    ``P delta`` in the ball is the exact projection onto band and ball (Pythagoras:
    ``||delta - y||^2 = ||delta - P delta||^2 + ||P delta - y||^2`` for ``y`` in the
    band). Otherwise: Dykstra's algorithm between ball and band (the band is a
    subspace, so its correction vanishes and one correction, the ball's, remains); its
    iterate always lies in the band, and scaling by ``min(1, eps / max|x|)`` puts it in
    the ball without leaving the band. The rounds run only if some sample needs them.
    """
    limited = band_project(delta, keep)
    inside = _peak(limited) <= eps
    if bool(inside.all()):
        return limited
    x, correction = delta, torch.zeros_like(delta)
    for _ in range(DYKSTRA_STEPS):
        clamped = _clamp_linf(x + correction, eps)
        correction = x + correction - clamped
        x = band_project(clamped, keep)
    scaled = _clamp_linf(x * (eps / _peak(x).clamp_min(_TINY)).clamp(max=1.0), eps)
    return torch.where(inside, limited, scaled)


def project_band(
    delta: torch.Tensor, eps: torch.Tensor, norm: str, keep: torch.Tensor
) -> torch.Tensor:
    """Map perturbations into the intersection of a frequency band and the ``norm`` ball.

    L2: the orthogonal projection onto the band (``irfft2(rfft2(delta) * keep)``), then
    the radial projection onto the ball, which is the exact Euclidean projection onto
    their intersection (the ball is centred in the subspace). L-inf: the band-limited
    perturbation where it already lies in the ball (then it is the exact projection);
    elsewhere ``DYKSTRA_STEPS`` rounds of Dykstra's alternating projections between
    ball and band (converging to
    the Euclidean projection onto the intersection, a quadratic programme), then a
    per-sample scaling ``min(1, eps / max|d|)`` of the band-limited iterate, so the
    result lies in both exactly whether or not the rounds converged. With a band that
    holds every frequency both reduce to the plain projections (clamp, radial
    scaling). The final clamp only absorbs rounding. Unchecked, for the attack loop;
    ``keep`` is a :func:`shapebias._spectrum.band_keep` mask.
    """
    if norm == "l2":
        return _scale_l2(band_project(delta, keep), eps)
    return _linf_into_band(delta, eps, keep)


def random_start(
    images: torch.Tensor, eps: torch.Tensor, norm: str, generator: torch.Generator | None
) -> torch.Tensor:
    """A perturbation drawn uniformly from the ``norm`` ball of radius ``eps``.

    L-inf: each pixel uniform in ``[-eps, eps]``. L2: uniform in the ball's volume, a
    Gaussian direction with radius ``eps * u ** (1 / d)``.
    """
    dtype, device = images.dtype, images.device
    if norm == "linf":
        uniform = torch.rand(images.shape, dtype=dtype, device=device, generator=generator)
        return (2 * uniform - 1) * eps
    direction = torch.randn(images.shape, dtype=dtype, device=device, generator=generator)
    direction = direction / _per_sample_l2(direction).clamp_min(_TINY)
    dims = images[0].numel()
    u = torch.rand((images.shape[0], 1, 1, 1), dtype=dtype, device=device, generator=generator)
    radius = u ** (1.0 / dims)
    return direction * radius * eps


def ascent_step(grad: torch.Tensor, step_size: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent step of the given size: a sign step (L-inf) or a normalised one (L2)."""
    if norm == "linf":
        return step_size * grad.sign()
    return step_size * grad / _per_sample_l2(grad).clamp_min(_TINY)
