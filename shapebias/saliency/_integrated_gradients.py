"""Integrated Gradients: the input gradient integrated along a straight path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from shapebias._validation import (
    check_bool,
    check_choice,
    check_images,
    check_int,
    check_model,
    check_real,
)
from shapebias.models import check_unstacked, warn_if_train_mode
from shapebias.saliency._chunking import Rows, chunked_sum, resolve_batch_size
from shapebias.saliency._targets import (
    check_output,
    check_target,
    input_gradient,
    objective,
    predict,
)

__all__ = ["integrated_gradients", "path_nodes"]

METHODS = ("trapezoid", "gauss_legendre")


def path_nodes(steps: int, method: str) -> tuple[list[float], list[float]]:
    """Quadrature nodes ``alpha`` in ``[0, 1]`` and weights (summing to 1) for the path.

    ``"trapezoid"`` splits ``[0, 1]`` into ``steps`` equal intervals: ``steps + 1``
    nodes including both ends. ``"gauss_legendre"`` uses ``steps`` Gauss-Legendre nodes
    (exact for polynomials of degree ``2 * steps - 1``), none at the ends.

    Example:
        >>> path_nodes(2, "trapezoid")
        ([0.0, 0.5, 1.0], [0.25, 0.5, 0.25])
    """
    if method == "trapezoid":
        alphas = [s / steps for s in range(steps + 1)]
        weights = [1.0 / steps] * (steps + 1)
        weights[0] = weights[-1] = 0.5 / steps
        return alphas, weights
    nodes, node_weights = np.polynomial.legendre.leggauss(steps)
    return ((nodes + 1) / 2).tolist(), (node_weights / 2).tolist()


def _baseline_tensor(baseline: Any, images: torch.Tensor) -> torch.Tensor:
    """``baseline`` (a float, ``(C, H, W)`` or like ``images``) expanded to the images."""
    if isinstance(baseline, torch.Tensor):
        if baseline.shape not in (images.shape, images.shape[1:]):
            raise ValueError(
                f"baseline must have the images' shape {tuple(images.shape)} or one image's "
                f"shape {tuple(images.shape[1:])}, got {tuple(baseline.shape)}. Use a float "
                "for a constant baseline."
            )
        if baseline.dtype != images.dtype or baseline.device != images.device:
            raise ValueError(
                f"baseline must match the images' dtype and device ({images.dtype} on "
                f"{images.device}), got {baseline.dtype} on {baseline.device}."
            )
        check_images(baseline.expand_as(images), name="baseline")
        return baseline.detach().expand_as(images)
    value = check_real(baseline, "baseline", low=0.0, high=1.0)
    return torch.full_like(images, value)


def integrated_gradients(
    model: Any,
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    *,
    baseline: float | torch.Tensor = 0.0,
    steps: int = 50,
    method: str = "trapezoid",
    output: str = "logit",
    batch_size: int | None = None,
    return_delta: bool = False,
    progress: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrated Gradients (Sundararajan et al. 2017) along the straight path from a baseline.

    ``attr = (x - b) * integral_0^1 grad f(b + a (x - b)) da``, the integral by the
    trapezoid rule over ``steps`` intervals (``steps + 1`` gradients, both ends
    included) or by ``steps``-point Gauss-Legendre quadrature (captum's default, with
    ``n_steps`` gradients). By completeness, ``attr`` sums to ``f(x) - f(b)``; the gap
    ``delta = sum(attr) - (f(x) - f(b))`` measures the quadrature error.

    The ``N * (steps [+ 1])`` path points go through the model in chunks of at most
    ``batch_size`` images; the result does not depend on ``batch_size`` (up to the
    rounding of the model's batched kernels).

    Args:
        model: any callable ``images -> logits (N, K)``, normalisation inside it.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        target: an int, an int64 ``(N,)`` tensor, or ``None`` for the predicted class.
        baseline: a float in ``[0, 1]`` (``0.0``: black), or a tensor of the images'
            shape or of one image's shape ``(C, H, W)``, in ``[0, 1]``.
        steps: number of intervals (trapezoid) or nodes (Gauss-Legendre).
        method: ``"trapezoid"`` or ``"gauss_legendre"``.
        output: ``"logit"`` or ``"loss"`` (cross-entropy of ``target``).
        batch_size: most images per model call; ``None`` picks a measured default.
        return_delta: also return the completeness gap per sample.
        progress: show a progress bar over chunks.

    Returns:
        The detached attributions like ``images``; with ``return_delta`` a tuple
        ``(attributions, delta)`` with ``delta`` of shape ``(N,)``.

    Raises:
        TypeError: wrong argument types (see :func:`gradient`),
            ``return_delta`` or ``progress`` not a ``bool``, a model that is or holds a
            :class:`~shapebias.models.StackedModels` (explain its ``unstack()`` members).
        ValueError: bad images or target, ``steps < 1`` (or above
            ``MAX_GAUSS_LEGENDRE_NODES`` = 1000 with ``"gauss_legendre"``),
            ``batch_size < 1``, a baseline of the wrong shape, dtype, device or range, an
            unknown ``method`` or ``output``, a model whose logits or input gradients are
            NaN or inf, a model whose output does not depend on its input through
            autograd (a ``.detach()``, rounding or ``torch.no_grad()`` in its ``forward``).

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.saliency import integrated_gradients
        >>> model = small_cnn(10).eval()
        >>> attr, delta = integrated_gradients(model, torch.rand(2, 3, 32, 32), 1,
        ...                                    steps=16, return_delta=True)
        >>> attr.shape, delta.shape
        (torch.Size([2, 3, 32, 32]), torch.Size([2]))

    References:
        Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML 2017.
    """
    check_model(model)
    check_unstacked(
        model, "integrated_gradients", "it runs the path points in chunks of batch_size"
    )
    check_images(images)
    target_t = check_target(target, images)
    baseline_t = _baseline_tensor(baseline, images)
    check_int(steps, "steps", low=1)
    check_choice(method, "method", METHODS)
    _check_nodes(steps, method)
    output = check_output(output)
    rows_per_call = resolve_batch_size(batch_size, images)
    check_bool(return_delta, "return_delta")
    check_bool(progress, "progress")
    warn_if_train_mode(model, "integrated_gradients")

    clean = images.detach()
    if target_t is None:
        target_t = predict(model, clean, rows_per_call)
    difference = clean - baseline_t
    alpha, weight = _quadrature(steps, method, clean)

    def path_point(s: int, start: int, stop: int) -> torch.Tensor:
        return baseline_t[start:stop] + alpha(s) * difference[start:stop]

    def contribution(rows: Rows, first: bool) -> torch.Tensor:
        grad, _ = input_gradient(model, rows.inputs, target_t[rows.image], output, check=first)
        return grad * weight(rows.copy).view(-1, 1, 1, 1)

    total = chunked_sum(
        contribution,
        path_point,
        steps + 1 if method == "trapezoid" else steps,
        clean,
        rows_per_call,
        progress=progress,
        desc="integrated_gradients",
    )
    attributions = difference * total
    if not return_delta:
        return attributions
    gap = _explained(model, clean, target_t, output, rows_per_call) - _explained(
        model, baseline_t, target_t, output, rows_per_call
    )
    return attributions, attributions.flatten(1).sum(1) - gap


def _explained(
    model: Any, points: torch.Tensor, target: torch.Tensor, output: str, batch_size: int
) -> torch.Tensor:
    """The explained scalar ``f`` at each point ``(N,)``, in chunks of ``batch_size``."""
    pairs = zip(points.split(batch_size), target.split(batch_size), strict=True)
    with torch.no_grad():
        return torch.cat([objective(model(chunk), labels, output) for chunk, labels in pairs])


# Gauss-Legendre nodes come from an n x n eigenproblem (numpy's leggauss): O(n^2) memory
# and O(n^3) time; 2000 nodes took 15 s on the development machine, 10^5 would need
# 80 GB. 1000 nodes integrate polynomials of degree 1999 exactly.
MAX_GAUSS_LEGENDRE_NODES = 1000


def _check_nodes(steps: int, method: str) -> None:
    if method == "gauss_legendre" and steps > MAX_GAUSS_LEGENDRE_NODES:
        raise ValueError(
            f"steps must be <= {MAX_GAUSS_LEGENDRE_NODES} with method='gauss_legendre', got "
            f"{steps}: its nodes come from a steps x steps eigenproblem (O(steps^3) time, "
            "O(steps^2) memory). Use method='trapezoid' for more steps."
        )


def _quadrature(
    steps: int, method: str, like: torch.Tensor
) -> tuple[Callable[[int], float], Callable[[torch.Tensor], torch.Tensor]]:
    """Node ``alpha(s)`` and weights ``weight(copies)`` of :func:`path_nodes`, in O(1) memory
    for the trapezoid rule (any ``steps``), as tables for Gauss-Legendre (bounded ``steps``)."""
    if method == "trapezoid":

        def weight(copies: torch.Tensor) -> torch.Tensor:
            weights = torch.full(copies.shape, 1.0 / steps, dtype=like.dtype, device=like.device)
            return weights.masked_fill_((copies == 0) | (copies == steps), 0.5 / steps)

        return (lambda s: s / steps), weight
    alphas, weights = path_nodes(steps, method)
    table = torch.tensor(weights, dtype=like.dtype, device=like.device)
    return alphas.__getitem__, table.__getitem__
