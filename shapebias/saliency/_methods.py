"""Saliency methods by name, for the helpers that take a method as an argument."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from shapebias.saliency._grad_cam import grad_cam
from shapebias.saliency._gradient import gradient, input_x_gradient
from shapebias.saliency._guided_backprop import guided_backprop
from shapebias.saliency._integrated_gradients import integrated_gradients
from shapebias.saliency._smoothgrad import smoothgrad

__all__ = ["METHODS", "call_rewound", "check_method_kwargs", "resolve_method"]

METHODS: dict[str, Callable[..., Any]] = {
    "gradient": gradient,
    "input_x_gradient": input_x_gradient,
    "smoothgrad": smoothgrad,
    "integrated_gradients": integrated_gradients,
    "grad_cam": grad_cam,
    "guided_backprop": guided_backprop,
}


def resolve_method(method: Any) -> Callable[..., Any]:
    """A saliency function from its name, or any callable ``(model, images, target, **kw)``."""
    if isinstance(method, str):
        if method not in METHODS:
            options = ", ".join(repr(name) for name in METHODS)
            raise ValueError(f"method must be one of {options} or a callable, got {method!r}.")
        return METHODS[method]
    if not callable(method):
        raise TypeError(
            "method must be a saliency function (e.g. shapebias.saliency.smoothgrad) or its "
            f"name, got {type(method).__name__}."
        )
    return method


def check_method_kwargs(method_kwargs: Any) -> dict[str, Any]:
    """``method_kwargs`` as a dict: ``None`` or a mapping of keyword arguments."""
    if method_kwargs is None:
        return {}
    if not isinstance(method_kwargs, Mapping):
        raise TypeError(
            "method_kwargs must be a dict of keyword arguments for the method, e.g. "
            f'{{"n_samples": 100}}, got {type(method_kwargs).__name__}.'
        )
    return dict(method_kwargs)


def call_rewound(
    saliency_fn: Callable[..., Any],
    model: Any,
    images: torch.Tensor,
    target: Any,
    method_kwargs: dict[str, Any],
) -> torch.Tensor:
    """Call the method, then put a ``generator`` argument back to its starting state.

    Maps of several models (or of one model before and after randomisation) then all
    use the same noise.
    """
    generator = method_kwargs.get("generator")
    if not isinstance(generator, torch.Generator):
        return saliency_fn(model, images, target, **method_kwargs)
    state = generator.get_state()
    try:
        return saliency_fn(model, images, target, **method_kwargs)
    finally:
        generator.set_state(state)
