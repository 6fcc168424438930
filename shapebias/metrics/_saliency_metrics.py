"""Numbers for saliency maps: alignment with image edges, concentration, similarity."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from shapebias._stats import rank_correlation
from shapebias._validation import check_int
from shapebias.distortions import edges

__all__ = ["concentration", "edge_alignment", "image_edges", "saliency_similarity"]


def _magnitude(saliency: Any, name: str) -> torch.Tensor:
    """Check a saliency batch ``(N, C, H, W)`` or ``(N, H, W)``; return ``(N, H, W)`` magnitudes.

    Channels are reduced by summing absolute values, the usual view of an input gradient.
    """
    if not isinstance(saliency, torch.Tensor) or not saliency.is_floating_point():
        got = saliency.dtype if isinstance(saliency, torch.Tensor) else type(saliency).__name__
        raise TypeError(
            f"{name} must be a floating torch.Tensor of shape (N, C, H, W) or (N, H, W), got {got}."
        )
    if saliency.ndim not in (3, 4) or saliency.numel() == 0:
        raise ValueError(
            f"{name} must be a non-empty tensor of shape (N, C, H, W) or (N, H, W), "
            f"got shape {tuple(saliency.shape)}."
        )
    if not bool(saliency.detach().isfinite().all()):
        raise ValueError(f"{name} contains NaN or inf; saliency maps must be finite.")
    magnitude = saliency.detach().abs()
    return magnitude.sum(1) if magnitude.ndim == 4 else magnitude


def _share_of_mass(magnitude: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    total = magnitude.flatten(1).sum(1)
    inside = (magnitude * mask).flatten(1).sum(1)
    return inside / total  # 0 / 0 = NaN for an all-zero map


def _check_tolerance(tolerance: Any, images: torch.Tensor) -> int:
    tolerance = check_int(tolerance, "tolerance", low=0)
    size = max(images.shape[-2:])
    if tolerance >= size:
        raise ValueError(
            f"tolerance must be below the image size {size} (beyond it every pixel lies within "
            f"tolerance of every edge), got {tolerance}."
        )
    return tolerance


def image_edges(
    images: torch.Tensor,
    *,
    sigma: float = 1.0,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
    tolerance: int = 0,
) -> torch.Tensor:
    """Canny edges of each image, optionally widened by ``tolerance`` pixels.

    The edge detector is the package's one Canny map, the black lines of the
    :func:`~shapebias.distortions.edges` stimuli: scikit-image's ``canny`` on the BT.601
    luminance of each image (a copy of single-channel images), with hysteresis
    thresholds 0.1 and 0.2 on the gradient magnitude unless given. The default
    ``sigma = 1`` keeps the finer edges a saliency map can follow (the
    :func:`~shapebias.distortions.edges` stimuli default to 2, the object's outline).
    ``tolerance > 0`` adds every pixel within that many pixels (Chebyshev distance, a
    square neighbourhood) of an edge, which forgives maps that peak just beside an edge.

    Args:
        images: ``(N, C, H, W)`` in ``[0, 1]``, ``C`` in ``{1, 3}``.
        sigma: standard deviation of the Gaussian smoothing before edge detection,
            finite, ``> 0`` and with a 4-sigma radius of at most ``max(H, W)``.
        low_threshold: hysteresis lower bound, see :func:`~shapebias.distortions.edges`.
        high_threshold: hysteresis upper bound, ``>= low_threshold``.
        tolerance: dilation radius in pixels, below ``max(H, W)``.

    Returns:
        Bool ``(N, H, W)`` on the images' device.

    Shape:
        ``(N, C, H, W) -> (N, H, W)``.

    Raises:
        ValueError: bad images, ``C`` not 1 or 3, a ``sigma``, threshold or ``tolerance``
            out of range (inconsistent thresholds are named with their values).

    Example:
        >>> import torch
        >>> from shapebias.metrics import image_edges
        >>> square = torch.zeros(1, 1, 16, 16)
        >>> square[..., 4:12, 4:12] = 1.0
        >>> edges = image_edges(square)
        >>> bool(edges[0, 4:12, 4:12].any()), bool(edges[0, 7:9, 7:9].any())
        (True, False)
    """
    drawn = edges(images, sigma=sigma, low_threshold=low_threshold, high_threshold=high_threshold)
    mask = drawn[:, 0] == 0  # edges are drawn as exact 0 on exact 1
    tolerance = _check_tolerance(tolerance, images)
    if tolerance:
        widened = F.max_pool2d(mask[:, None].float(), 2 * tolerance + 1, 1, tolerance)
        mask = widened[:, 0] > 0
    return mask


def edge_alignment(
    saliency: torch.Tensor,
    images: torch.Tensor,
    *,
    sigma: float = 1.0,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
    tolerance: int = 0,
) -> torch.Tensor:
    """Share of each saliency map's mass that lies on the image's Canny edges.

    The map's magnitude (``|s|`` summed over channels) on the edge pixels of
    :func:`image_edges`, divided by its total. A map that ignores edges scores about the
    share of edge pixels (``image_edges(images).float().mean((1, 2))``, the chance level
    to compare with); a map drawn along the object's outline scores near 1. Zhang & Zhu
    observe that adversarially trained CNNs have saliency maps that follow edges and
    shapes; this turns that visual impression into a number.

    Args:
        saliency: ``(N, C, H, W)`` or ``(N, H, W)``, e.g. from :mod:`shapebias.saliency`.
        images: ``(N, C, H, W)`` in ``[0, 1]``, the images the maps explain.
        sigma: Canny smoothing, see :func:`image_edges`.
        low_threshold: Canny hysteresis lower bound.
        high_threshold: Canny hysteresis upper bound.
        tolerance: widen edges by this many pixels.

    Returns:
        ``(N,)`` shares in ``[0, 1]`` (NaN for an all-zero map), saliency's dtype and device.

    Shape:
        ``saliency (N, C, H, W)`` or ``(N, H, W)``, ``images (N, C, H, W) -> (N,)``.

    Raises:
        ValueError: maps and images differ in ``N``, ``H`` or ``W``; bad maps or images;
            anything :func:`image_edges` refuses.

    Example:
        >>> import torch
        >>> from shapebias.metrics import edge_alignment, image_edges
        >>> square = torch.zeros(1, 1, 16, 16)
        >>> square[..., 4:12, 4:12] = 1.0
        >>> on_edges = image_edges(square).float()
        >>> edge_alignment(on_edges, square).tolist()
        [1.0]

    References:
        Zhang & Zhu, "Interpreting Adversarially Trained Convolutional Neural Networks",
        ICML 2019.
    """
    magnitude = _magnitude(saliency, "saliency")
    on_edges = image_edges(
        images, sigma=sigma, low_threshold=low_threshold, high_threshold=high_threshold,
        tolerance=tolerance,
    )  # fmt: skip
    if magnitude.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(
            f"saliency must have one (H, W) map per image, {(images.shape[0], *images.shape[2:])}"
            f" after summing channels, got {tuple(saliency.shape)} for images of shape "
            f"{tuple(images.shape)}."
        )
    return _share_of_mass(magnitude, on_edges.to(saliency.device, magnitude.dtype))


def concentration(saliency: torch.Tensor) -> torch.Tensor:
    """Gini coefficient of each saliency map: 0 = spread evenly, near 1 = on a few pixels.

    With the ``n`` magnitudes (``|s|`` summed over channels) sorted ascending,
    ``G = 2 sum_i i x_(i) / (n sum_i x_i) - (n + 1) / n``. A constant map gives 0, a map
    with all its mass on one pixel gives ``(n - 1) / n``; the value does not change when
    the map is scaled. Sparse, object-focused maps score high, diffuse noisy maps low.

    Args:
        saliency: ``(N, C, H, W)`` or ``(N, H, W)``.

    Returns:
        ``(N,)`` in ``[0, 1)`` (NaN for an all-zero map), saliency's dtype and device.

    Shape:
        ``(N, C, H, W)`` or ``(N, H, W) -> (N,)``.

    Example:
        >>> import torch
        >>> from shapebias.metrics import concentration
        >>> maps = torch.zeros(2, 2, 2)
        >>> maps[0] = 1.0
        >>> maps[1, 0, 0] = 5.0
        >>> concentration(maps).tolist()
        [0.0, 0.75]
    """
    values = _magnitude(saliency, "saliency").flatten(1).sort(1).values
    n = values.shape[1]
    rank = torch.arange(1, n + 1, dtype=values.dtype, device=values.device)
    return 2 * (values * rank).sum(1) / (n * values.sum(1)) - (n + 1) / n


def saliency_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between two batches of saliency maps, per image.

    Both are reduced to magnitudes (``|s|`` summed over channels) first, so maps of
    different methods (a ``(N, C, H, W)`` gradient and a ``(N, H, W)`` Grad-CAM) compare
    directly. Rank correlation ignores any monotone rescaling of either map, the usual
    choice for comparing saliency methods and models (Adebayo et al., 2018).

    Args:
        a: ``(N, C, H, W)`` or ``(N, H, W)``.
        b: the same ``N``, ``H``, ``W``.

    A constant map (all pixels of equal magnitude, e.g. an all-zero gradient) has no
    ranking, so its correlation is undefined: such maps are refused, naming the images,
    rather than returned as NaN that would silently drop out of (or poison) an average.

    Returns:
        ``(N,)`` in ``[-1, 1]``, ``a``'s dtype and device.

    Shape:
        ``a``, ``b``: ``(N, C, H, W)`` or ``(N, H, W)`` (each its own) ``-> (N,)``.

    Raises:
        ValueError: shapes differ after the channel reduction; a map of ``a`` or ``b`` is
            constant.

    Example:
        >>> import torch
        >>> from shapebias.metrics import saliency_similarity
        >>> a = torch.rand(2, 3, 8, 8)
        >>> saliency_similarity(a, 2 * a).tolist()
        [1.0, 1.0]
    """
    first, second = _magnitude(a, "a"), _magnitude(b, "b")
    if first.shape != second.shape:
        raise ValueError(
            f"a and b must hold maps of the same images and size, got {tuple(a.shape)} and "
            f"{tuple(b.shape)} ({tuple(first.shape)} and {tuple(second.shape)} after "
            "summing channels)."
        )
    for name, magnitude in (("a", first), ("b", second)):
        _refuse_constant(magnitude, name)
    return rank_correlation(first, second)


def _refuse_constant(magnitude: torch.Tensor, name: str) -> None:
    flat = magnitude.flatten(1)
    constant = (flat.amax(1) == flat.amin(1)).nonzero().flatten().tolist()
    if constant:
        shown = ", ".join(map(str, constant[:5])) + (", ..." if len(constant) > 5 else "")
        raise ValueError(
            f"{name} holds constant maps (images {shown}): a rank correlation is undefined "
            "without a ranking. Compare only images whose maps vary, e.g. keep = "
            f"{name}.flatten(1).std(1) > 0."
        )
