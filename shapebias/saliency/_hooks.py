"""Module hooks that never outlive the call that registered them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

__all__ = ["HOOKS", "forward_hooks", "resolve_layer"]


HOOKS = "it registers hooks on its submodules"
"""Why the hook-based methods need an ``nn.Module``, for :func:`check_module`'s message."""


def resolve_layer(model: nn.Module, layer: Any) -> nn.Module:
    """The submodule ``layer`` of ``model``, given as the module itself or its dotted name."""
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [name for name, _ in model.named_modules() if name][-5:]
            raise ValueError(
                f"layer {layer!r} is not a submodule of the model. Pass a module or a dotted "
                f"name from model.named_modules(), e.g. one of {names}."
            ) from None
    if not isinstance(layer, nn.Module):
        raise TypeError(
            f"layer must be a submodule of the model or its dotted name, got "
            f"{type(layer).__name__}."
        )
    if not any(module is layer for module in model.modules()):
        raise ValueError(
            f"layer {type(layer).__name__} is not a submodule of the model. Pass a module "
            "taken from the model itself (e.g. model.layer4), not from a copy."
        )
    return layer


@contextmanager
def forward_hooks(modules: Iterable[nn.Module], hook: Callable[..., Any]) -> Iterator[None]:
    """Register ``hook`` as a forward hook on every module; remove all of them on exit."""
    handles = []
    try:
        for module in modules:
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()
