"""The shape bias a texture-blind model would show: the reference every shape bias needs."""

from __future__ import annotations

from shapebias._validation import check_int, check_real

__all__ = ["texture_blind_null"]


def texture_blind_null(shape_only_accuracy: float, num_classes: int) -> float:
    """``s / (s + (1 - s) / (K - 1))``: the shape bias of a model that ignores texture.

    A model that sees only shape names the shape class with probability ``s`` (its
    accuracy on shape-only images: silhouettes, edges) and, when wrong, one of the other
    ``K - 1`` classes uniformly, the texture class among them with probability
    ``1 / (K - 1)``. Its expected shape bias ``S / (S + T)`` is this value; a measured
    shape bias means little unless it is read beside it.

    Args:
        shape_only_accuracy: ``s`` in ``[0, 1]``.
        num_classes: ``K >= 2``.

    Returns:
        The null shape bias in ``[0, 1]``.

    Raises:
        ValueError: ``s`` outside ``[0, 1]`` or ``K < 2``.

    Example:
        >>> from shapebias.metrics import texture_blind_null
        >>> round(texture_blind_null(0.5, 16), 4)  # half right on silhouettes, 16 classes
        0.9375
    """
    s = check_real(shape_only_accuracy, "shape_only_accuracy", low=0.0, high=1.0)
    k = check_int(num_classes, "num_classes", low=2)
    return s / (s + (1 - s) / (k - 1))  # s + (1 - s) / (K - 1) > 0 for K >= 2
