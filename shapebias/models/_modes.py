"""Context managers that change a model's mode or gradients and always restore them."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd

__all__ = [
    "CRAFTING_MODES",
    "TrainModeWarning",
    "batchnorm_statistics_kept",
    "crafting",
    "eval_mode",
    "frozen",
    "train_mode",
    "warn_if_train_mode",
]

CRAFTING_MODES = ("eval", "train")


class TrainModeWarning(UserWarning):
    """A model with BatchNorm or Dropout was used in training mode where eval is usual."""


@contextmanager
def _modes_set_to(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    saved = [(module, module.training) for module in model.modules()]
    try:
        model.train(training)
        yield model
    finally:
        for module, was_training in saved:
            module.training = was_training


def eval_mode(model: nn.Module) -> Any:
    """Put every submodule in eval mode; restore each one's own ``training`` flag on exit.

    Unlike ``model.train(old)``, this also restores submodules whose flags differed from
    the root's (a frozen BatchNorm inside a training model, say), and it restores them when
    the body raises.

    Example:
        >>> from shapebias.models import eval_mode, small_cnn
        >>> model = small_cnn(10).train()
        >>> with eval_mode(model):
        ...     model.training
        False
        >>> model.training
        True
    """
    return _modes_set_to(model, False)


def train_mode(model: nn.Module) -> Any:
    """Put every submodule in training mode; restore each one's flag on exit.

    The twin of :func:`eval_mode`, for crafting attacks under the training-mode
    BatchNorm policy.
    """
    return _modes_set_to(model, True)


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Set ``requires_grad=False`` on every parameter; restore each exactly on exit.

    Example:
        >>> from shapebias.models import frozen, small_cnn
        >>> model = small_cnn(10)
        >>> with frozen(model):
        ...     any(p.requires_grad for p in model.parameters())
        False
        >>> all(p.requires_grad for p in model.parameters())
        True
    """
    saved = [(param, param.requires_grad) for param in model.parameters()]
    try:
        for param, _ in saved:
            param.requires_grad_(False)
        yield model
    finally:
        for param, requires_grad in saved:
            param.requires_grad_(requires_grad)


@contextmanager
def batchnorm_statistics_kept(model: nn.Module) -> Iterator[nn.Module]:
    """Snapshot every BatchNorm running statistic and write it back on exit, also on error.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from shapebias.models import batchnorm_statistics_kept
        >>> model = nn.BatchNorm2d(3).train()
        >>> with batchnorm_statistics_kept(model):
        ...     _ = model(torch.rand(4, 3, 2, 2) + 5)
        >>> model.running_mean.tolist()
        [0.0, 0.0, 0.0]
    """
    buffers = [
        buffer
        for module in model.modules()
        if isinstance(module, _BatchNorm)
        for buffer in module.buffers()
    ]
    saved = [buffer.detach().clone() for buffer in buffers]
    try:
        yield model
    finally:
        with torch.no_grad():
            for buffer, value in zip(buffers, saved, strict=True):
                buffer.copy_(value)


@contextmanager
def crafting(model: Any, attack_mode: str) -> Iterator[None]:
    """The BatchNorm policy under which training crafts its adversarial examples.

    ``"eval"``: every submodule in eval mode (BatchNorm uses its running statistics,
    Dropout is off). ``"train"``: every submodule in training mode (BatchNorm uses the
    statistics of the batch being attacked); the running statistics are kept
    (:func:`batchnorm_statistics_kept`), so only the training forward pass updates
    them, and only the :class:`TrainModeWarning` that this deliberate choice triggers
    is silenced. Each submodule's own mode is restored on exit, also on error. A model
    that is not an ``nn.Module`` is used as it is.

    Args:
        model: the model adversarial examples are crafted on.
        attack_mode: ``"eval"`` or ``"train"`` (:data:`CRAFTING_MODES`), validated by the caller.

    Example:
        >>> from shapebias.models import crafting, small_cnn
        >>> model = small_cnn(10).train()
        >>> with crafting(model, "eval"):
        ...     model.training
        False
        >>> model.training
        True
    """
    if not isinstance(model, nn.Module):
        yield
        return
    if attack_mode == "eval":
        with eval_mode(model):
            yield
        return
    with batchnorm_statistics_kept(model), train_mode(model), warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainModeWarning)
        yield


def warn_if_train_mode(model: Any, what: str) -> None:
    """Warn once if ``model`` has BatchNorm or Dropout layers in training mode.

    Args:
        model: any callable; only ``nn.Module`` models are inspected.
        what: the operation, used in the message (``"pgd"``).
    """
    if not isinstance(model, nn.Module):
        return
    if any(m.training for m in model.modules() if isinstance(m, (_BatchNorm, _DropoutNd))):
        warnings.warn(
            f"{what}: the model is in training mode and has BatchNorm or Dropout layers, so "
            "its outputs are stochastic or batch-dependent and BatchNorm running statistics "
            "are updated. shapebias does not switch modes silently: call model.eval() or run "
            "inside shapebias.models.eval_mode(model) unless training mode is intended.",
            TrainModeWarning,
            stacklevel=3,
        )
