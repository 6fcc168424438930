"""Saliency maps as pictures: the paper's heatmap, overlays and a model-by-image grid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from shapebias._matplotlib import colormap, matplotlib_module
from shapebias._validation import check_images, check_real
from shapebias.saliency._methods import call_rewound, check_method_kwargs, resolve_method

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["overlay", "plot_saliency_grid", "row_percentile", "to_heatmap"]


def row_percentile(values: torch.Tensor, q: float) -> torch.Tensor:
    """Per-row ``q``-th percentile of a ``(N, L)`` tensor, linear interpolation (numpy's default).

    Unlike :func:`torch.quantile` it has no input size limit.
    """
    ordered = values.sort(dim=1).values
    position = q / 100 * (values.shape[1] - 1)
    low = int(position)
    high = min(low + 1, values.shape[1] - 1)
    fraction = position - low
    return ordered[:, low] + fraction * (ordered[:, high] - ordered[:, low])


def _check_saliency(saliency: Any) -> None:
    if not isinstance(saliency, torch.Tensor) or not saliency.is_floating_point():
        raise TypeError(
            f"saliency must be a floating tensor (N, C, H, W), got {type(saliency).__name__}"
            f"{' of dtype ' + str(saliency.dtype) if isinstance(saliency, torch.Tensor) else ''}."
        )
    if saliency.ndim != 4 or saliency.numel() == 0:
        raise ValueError(
            f"saliency must have shape (N, C, H, W) like the images it explains, got "
            f"{tuple(saliency.shape)}. Add a channel dimension with saliency.unsqueeze(1)."
        )
    finite = torch.isfinite(saliency.detach()).flatten(1).all(1)
    if not bool(finite.all()):
        bad = (~finite).nonzero().flatten().tolist()
        raise ValueError(
            f"saliency contains NaN or inf in map(s) {bad[:8]}; a heatmap of it would be "
            "meaningless (NaN has no brightness). The saliency methods of this library "
            "refuse such models; check how this map was computed."
        )


def to_heatmap(saliency: torch.Tensor, *, percentile: float = 99.0) -> torch.Tensor:
    """The paper's display of a saliency map: ``|g|`` summed over channels, scaled, clipped.

    Each map is divided by its own ``percentile``-th percentile (so a few extreme
    pixels do not wash out the picture) and clipped to ``[0, 1]``. A map that is zero at
    that percentile is divided by its maximum instead; an all-zero map stays zero.

    Args:
        saliency: ``(N, C, H, W)`` map from any method (Grad-CAM's ``C = 1`` too).
        percentile: in ``(0, 100]``; 99 as in Smilkov et al. and Zhang & Zhu.

    Returns:
        ``(N, H, W)`` in ``[0, 1]``, the saliency's dtype and device.

    Raises:
        TypeError: ``saliency`` is not a floating tensor.
        ValueError: wrong shape, NaN or inf in a map (no brightness can be defined for
            it), ``percentile`` outside ``(0, 100]``.

    Example:
        >>> import torch
        >>> from shapebias.saliency import to_heatmap
        >>> heat = to_heatmap(torch.randn(2, 3, 8, 8))
        >>> heat.shape, float(heat.min()) >= 0, float(heat.max())
        (torch.Size([2, 8, 8]), True, 1.0)
    """
    _check_saliency(saliency)
    q = check_real(percentile, "percentile", low=0.0, high=100.0, low_inclusive=False)
    magnitude = saliency.detach().abs().sum(1)
    flat = magnitude.flatten(1)
    scale = row_percentile(flat, q)
    scale = torch.where(scale > 0, scale, flat.amax(1))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (magnitude / scale.view(-1, 1, 1)).clamp(0, 1)


def overlay(
    images: torch.Tensor, heatmap: torch.Tensor, *, alpha: float = 0.5, cmap: str = "jet"
) -> torch.Tensor:
    """Blend a colour-mapped heatmap over the images: ``(1 - alpha) * image + alpha * colour``.

    Args:
        images: ``(N, C, H, W)`` in ``[0, 1]`` with ``C`` 1 or 3 (grey is repeated).
        heatmap: ``(N, H, W)`` in ``[0, 1]``, e.g. from :func:`to_heatmap`.
        alpha: weight of the heatmap, in ``[0, 1]``.
        cmap: a matplotlib colormap name.

    Returns:
        ``(N, 3, H, W)`` RGB in ``[0, 1]``, the images' dtype and device.

    Raises:
        ImportError: matplotlib is missing (``pip install "shapebias[plot]"``).
        ValueError: shapes that do not match, values outside ``[0, 1]``, an unknown
            ``cmap``.

    Example:
        >>> import torch
        >>> from shapebias.saliency import overlay
        >>> overlay(torch.rand(2, 3, 8, 8), torch.rand(2, 8, 8)).shape
        torch.Size([2, 3, 8, 8])
    """
    check_images(images)
    check_real(alpha, "alpha", low=0.0, high=1.0)
    n, channels, height, width = images.shape
    if channels not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels to overlay, got {channels}.")
    if not isinstance(heatmap, torch.Tensor) or heatmap.shape != (n, height, width):
        raise ValueError(
            f"heatmap must have shape ({n}, {height}, {width}) to match the images, got "
            f"{getattr(heatmap, 'shape', type(heatmap).__name__)}. Make one with to_heatmap."
        )
    check_images(heatmap.unsqueeze(1), name="heatmap")
    palette = colormap(cmap)
    levels = heatmap.detach().cpu().double().numpy()
    colour = torch.as_tensor(palette(levels)[..., :3]).permute(0, 3, 1, 2)
    colour = colour.to(dtype=images.dtype, device=images.device)
    return (1 - alpha) * images.detach().expand(n, 3, height, width) + alpha * colour


def plot_saliency_grid(
    models: Mapping[str, Any],
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    *,
    method: Any = "smoothgrad",
    percentile: float = 99.0,
    cmap: str = "gray",
    method_kwargs: Mapping[str, Any] | None = None,
    figure: Figure | None = None,
) -> Figure:
    """The paper's figure: the images on top, then one row of saliency maps per model.

    Every map is computed with ``method`` (a name such as ``"smoothgrad"`` or any
    function ``(model, images, target, **kwargs)``) and shown with :func:`to_heatmap`.

    Args:
        models: row labels to models, in display order (e.g. ``{"standard": m1, "PGD
            8/255": m2}``).
        images: ``(N, C, H, W)`` in ``[0, 1]``; one column each.
        target: as in the methods; ``None`` explains each model's own prediction.
        method: saliency method name or function.
        percentile: passed to :func:`to_heatmap`.
        cmap: colormap of the saliency rows (grey as in the paper).
        method_kwargs: keyword arguments for the method (``{"output": "loss",
            "n_samples": 100, "generator": g}``). A generator is rewound to its starting
            state for every model, so all models see the same noise.
        figure: draw into this figure (e.g. ``plt.figure()``, to show it with pyplot);
            by default a new standalone :class:`matplotlib.figure.Figure`.

    Returns:
        The figure, with ``(len(models) + 1) * N`` axes.

    Raises:
        ImportError: matplotlib is missing (``pip install "shapebias[plot]"``).
        ValueError: no models, an unknown method name or ``cmap``, bad images.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.saliency import plot_saliency_grid
        >>> models = {"a": small_cnn(3).eval(), "b": small_cnn(3).eval()}
        >>> fig = plot_saliency_grid(models, torch.rand(2, 3, 16, 16), method="gradient")
        >>> len(fig.axes)
        6
    """
    saliency_fn = resolve_method(method)
    kwargs = check_method_kwargs(method_kwargs)
    colormap(cmap)
    check_images(images)
    if not isinstance(models, Mapping) or not models:
        raise ValueError(
            "models must be a non-empty dict of row labels to models, got "
            f"{type(models).__name__} {models!r}."
        )
    heatmaps = {
        name: to_heatmap(
            call_rewound(saliency_fn, model, images, target, kwargs), percentile=percentile
        )
        for name, model in models.items()
    }
    if figure is None:
        figure = matplotlib_module("matplotlib.figure").Figure(
            figsize=(1.6 * images.shape[0], 1.6 * (len(models) + 1))
        )
    axes = figure.subplots(len(models) + 1, images.shape[0], squeeze=False)
    pictures = images.detach().cpu().float().permute(0, 2, 3, 1).numpy()
    for column, picture in enumerate(pictures):
        grey = picture.shape[-1] == 1
        axes[0, column].imshow(picture[..., 0] if grey else picture, cmap="gray")
    for row, (name, heat) in enumerate(heatmaps.items(), start=1):
        for column, picture in enumerate(heat.cpu().float().numpy()):
            axes[row, column].imshow(picture, cmap=cmap, vmin=0, vmax=1)
        axes[row, 0].set_ylabel(name)
    axes[0, 0].set_ylabel("image")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure
