"""The model randomisation test of Adebayo et al. (2018): do the maps depend on the weights?"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from shapebias._stats import rank_correlation
from shapebias._validation import (
    check_bool,
    check_generator,
    check_images,
    check_module,
    check_real,
)
from shapebias.models import check_unstacked
from shapebias.saliency._chunking import resolve_batch_size
from shapebias.saliency._hooks import HOOKS
from shapebias.saliency._methods import call_rewound, check_method_kwargs, resolve_method
from shapebias.saliency._targets import check_target, predict

__all__ = ["RandomizationResult", "model_randomization_test"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RandomizationResult:
    """What :func:`model_randomization_test` found.

    Attributes:
        layers: the randomised layers, top first; step ``i`` randomised ``layers[: i + 1]``
            (cascading) or only ``layers[i]`` (independent).
        correlation: ``(L, N)`` Spearman rank correlation of each image's map after step
            ``i`` with its map from the original model (NaN where a map is constant).
        flagged: ``(L, N)`` bool, correlation at least ``threshold``: the map barely
            changed although the weights did.
    """

    layers: tuple[str, ...]
    correlation: torch.Tensor
    flagged: torch.Tensor


def _parametrised_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters, from the output back to the input."""
    names = [
        name
        for name, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False))
    ]
    return names[::-1]


def _check_layers(model: nn.Module, layers: Any) -> tuple[str, ...]:
    if layers is None:
        return tuple(_parametrised_layers(model))
    if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
        raise TypeError(
            "layers must be a non-empty sequence of dotted module names, top layer first, "
            f"or None for every layer with parameters, got {layers!r}."
        )
    known = set(_parametrised_layers(model))
    for name in layers:
        if name not in known:
            raise ValueError(
                f"layers entry {name!r} is not a submodule with parameters of the model; "
                f"choose from {sorted(known)[:8]}..."
            )
    return tuple(layers)


def _randomize(module: nn.Module, generator: torch.Generator | None) -> None:
    """Redraw each parameter from a Gaussian with its own mean and standard deviation.

    A constant parameter (a fresh BatchNorm weight, std 0) gets unit standard deviation.
    """
    with torch.no_grad():
        for param in module.parameters(recurse=False):
            std = param.std() if param.numel() > 1 else param.new_zeros(())
            std = torch.where(std > 0, std, torch.ones_like(std))
            noise = torch.randn(
                param.shape, generator=generator, dtype=param.dtype, device=param.device
            )
            param.copy_(param.mean() + std * noise)


def _map(
    saliency_fn: Any,
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    method_kwargs: dict[str, Any],
    absolute: bool,
) -> torch.Tensor:
    saliency = call_rewound(saliency_fn, model, images, target, method_kwargs).detach()
    return saliency.abs().sum(1) if absolute else saliency


def _rebind_layer(method_kwargs: dict[str, Any], original: nn.Module) -> dict[str, Any]:
    """A ``layer`` module argument (Grad-CAM) as its name, so it finds the copy's layer."""
    layer = method_kwargs.get("layer")
    if not isinstance(layer, nn.Module):
        return method_kwargs
    for name, module in original.named_modules():
        if module is layer:
            return {**method_kwargs, "layer": name}
    return method_kwargs


def model_randomization_test(
    model: nn.Module,
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    method: Any = "gradient",
    *,
    layers: Sequence[str] | None = None,
    cascading: bool = True,
    absolute: bool = True,
    threshold: float = 0.9,
    method_kwargs: Mapping[str, Any] | None = None,
    generator: torch.Generator | None = None,
) -> RandomizationResult:
    """Adebayo et al.'s model randomisation test: randomise layers, see if the maps change.

    A saliency method that explains the model must give different maps once the
    model's weights are random. Starting from the top (the logits), each step
    randomises one more layer (``cascading``) or only one layer (independent), and the
    Spearman rank correlation of every image's new map with its original map is
    recorded. A map whose correlation stays at or above ``threshold`` is flagged.

    The test works on a deep copy of ``model``; the model itself is never modified. A
    randomised parameter is redrawn from a Gaussian with that parameter's mean and
    standard deviation (unit deviation for constant tensors), using ``generator``. The
    target is fixed before any randomisation (``None``: the original model's prediction,
    made in chunks of ``method_kwargs["batch_size"]`` or the methods' default),
    and a ``generator`` in ``method_kwargs`` is rewound for every map, so noise-based
    methods always see the same noise.

    Args:
        model: the ``nn.Module`` under test.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        target: an int, an int64 ``(N,)`` tensor, or ``None`` for the predicted class.
        method: a saliency method name (``"gradient"``, ``"smoothgrad"``, ...) or function.
        layers: dotted names of the layers to randomise, top first; default every module
            that owns parameters, in reverse registration order.
        cascading: randomise layers cumulatively (Adebayo's cascading test) or one at a
            time (their independent test).
        absolute: compare ``|map|`` summed over channels (what a heatmap shows) rather
            than the signed maps.
        threshold: correlation at or above which a map counts as unchanged.
        method_kwargs: keyword arguments for the method (``{"n_samples": 20,
            "generator": g}``, ``{"layer": "layer4"}`` for Grad-CAM).
        generator: source of the random weights (the method's own generator, if any, goes
            in ``method_kwargs``).

    Returns:
        A :class:`RandomizationResult` with ``(L, N)`` correlations and flags.

    Raises:
        TypeError: a model that is not an ``nn.Module``, bad ``layers``, ``cascading`` or
            ``absolute`` not a ``bool``, a :class:`~shapebias.models.StackedModels`
            (test its ``unstack()`` members).
        ValueError: a layer name that is not a parametrised submodule, ``threshold``
            outside ``[-1, 1]``, bad images or target, an unknown method, a model whose
            logits are NaN or inf.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.saliency import model_randomization_test
        >>> model = small_cnn(3, depth=2).eval()
        >>> result = model_randomization_test(model, torch.rand(2, 3, 16, 16), 0,
        ...     generator=torch.Generator().manual_seed(0))
        >>> result.correlation.shape == (len(result.layers), 2)
        True

    References:
        Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018.
    """
    check_module(model, user="model_randomization_test", reason=HOOKS)
    check_unstacked(
        model, "model_randomization_test", "it randomises layers that hold every member at once"
    )
    check_images(images)
    target_t = check_target(target, images)
    saliency_fn = resolve_method(method)
    names = _check_layers(model, layers)
    check_real(threshold, "threshold", low=-1.0, high=1.0)
    check_generator(generator, images)
    check_bool(cascading, "cascading")
    check_bool(absolute, "absolute")
    kwargs = _rebind_layer(check_method_kwargs(method_kwargs), model)
    if target_t is None:
        target_t = predict(model, images, resolve_batch_size(kwargs.get("batch_size"), images))

    reference = _map(saliency_fn, model, images, target_t, kwargs, absolute)
    randomized = copy.deepcopy(model)
    correlations = []
    for name in names:
        if not cascading:
            randomized = copy.deepcopy(model)
        _randomize(randomized.get_submodule(name), generator)
        current = _map(saliency_fn, randomized, images, target_t, kwargs, absolute)
        correlations.append(rank_correlation(reference, current))
    correlation = torch.stack(correlations)
    flagged = correlation >= threshold
    if bool(flagged.any()):
        logger.info(
            "model_randomization_test: %d of %d maps barely changed (rank correlation >= %g)",
            int(flagged.sum()),
            flagged.numel(),
            threshold,
        )
    return RandomizationResult(names, correlation, flagged)
