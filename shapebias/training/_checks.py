"""Input checks specific to training (the generic ones live in ``shapebias._validation``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = [
    "check_loss_value",
    "check_optimizer",
    "check_optimizer_owns",
    "check_plain",
]

_PLAIN = (str, int, float, bool, type(None))


def check_loss_value(value: Any) -> torch.Tensor:
    """Check what a loss returned: a scalar tensor that depends on the parameters.

    Only tensor metadata is read, so this costs nothing inside the training loop.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"loss must return a scalar torch.Tensor, got {type(value).__name__}. "
            "A loss is called as loss(model, images, labels)."
        )
    if value.ndim != 0:
        raise ValueError(
            f"loss must return a scalar tensor, got shape {tuple(value.shape)}. "
            "Reduce it inside the loss, e.g. with .mean()."
        )
    if not value.requires_grad:
        raise ValueError(
            "loss returned a tensor that does not require grad, so no parameter would be "
            "updated. Do not detach it and do not call fit under torch.no_grad()."
        )
    return value


def check_plain(value: Any, name: str) -> Any:
    """Check that ``value`` holds only str/int/float/bool/None, lists, tuples and str-keyed dicts.

    Such values load with ``torch.load(..., weights_only=True)``.
    """
    if type(value) in _PLAIN:
        return value
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, f"{name}[{index}]")
        return value
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{name} keys must be str, got {type(key).__name__} {key!r}.")
            check_plain(item, f"{name}[{key!r}]")
        return dict(value)
    raise TypeError(
        f"{name} must hold only str, int, float, bool, None, lists and dicts (so that it loads "
        f"with weights_only=True), got {type(value).__name__}. Convert it, e.g. with str()."
    )


def check_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    """Check that ``optimizer`` is a :class:`torch.optim.Optimizer`."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}. "
            "Create one with torch.optim.SGD(model.parameters(), lr=0.1)."
        )
    return optimizer


def check_optimizer_owns(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    """Check that ``optimizer`` updates at least one parameter of ``model``."""
    own = {id(parameter) for parameter in model.parameters()}
    held = [p for group in optimizer.param_groups for p in group["params"]]
    if not any(id(parameter) in own for parameter in held):
        raise ValueError(
            f"optimizer holds {len(held)} parameters but none of them belongs to the model, so "
            "training would change nothing. Build it from this model: "
            "torch.optim.SGD(model.parameters(), lr=0.1)."
        )
