"""save_model / load_model: weights plus how they were made, loadable with ``weights_only=True``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from shapebias._validation import check_module
from shapebias._version import __version__
from shapebias.training._checkpoint import atomic_save, load_state_strict, read_record
from shapebias.training._checks import check_plain
from shapebias.training._distributed import unwrap

__all__ = ["load_model", "save_model"]

MODEL_FORMAT = "shapebias-model"


def save_model(path: str | os.PathLike[str], model: nn.Module, *, meta: Mapping[str, Any]) -> None:
    """Save a model's weights with a description of how they were made, atomically.

    The file holds the state dict and ``meta`` (e.g. :meth:`Recipe.meta`: recipe, eps,
    epochs, data description) completed with ``library_version``, ``torch_version`` and
    ``architecture`` (the model's class name). It contains only tensors and plain
    values, so ``torch.load(path, weights_only=True)`` reads it without running code.

    Args:
        path: destination file; folders are created.
        model: the trained ``nn.Module`` (a DistributedDataParallel wrapper is unwrapped).
        meta: str-keyed mapping of str/int/float/bool/None, lists and dicts.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``; ``meta`` holds other types.

    Example:
        >>> import tempfile, os
        >>> from shapebias.models import small_cnn
        >>> from shapebias.training import load_model, save_model
        >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
        >>> save_model(path, small_cnn(10), meta={"recipe": "standard", "data": "CIFAR-10"})
        >>> load_model(path, small_cnn(10))["recipe"]
        'standard'
    """
    model = unwrap(check_module(model))
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a mapping such as a dict, got {type(meta).__name__}.")
    description = {
        **check_plain(dict(meta), "meta"),
        "library_version": __version__,
        "torch_version": str(torch.__version__),
        "architecture": type(model).__name__,
    }
    record = {
        "format": MODEL_FORMAT,
        "version": 1,
        "state_dict": model.state_dict(),
        "meta": description,
    }
    atomic_save(record, path)


def load_model(
    path: str | os.PathLike[str], model: nn.Module | None = None, *, map_location: Any = "cpu"
) -> dict[str, Any]:
    """Load weights saved by :func:`save_model` into ``model`` and return their ``meta``.

    The file is read with ``weights_only=True``. Every key and shape is checked before
    anything is loaded, so weights of another architecture raise an error listing the
    mismatched keys and leave ``model`` untouched.

    Args:
        path: a file written by :func:`save_model`.
        model: the architecture to fill, built as when saving; None reads only ``meta``.
        map_location: as in :func:`torch.load`.

    Returns:
        The metadata dict.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a corrupt file, not a shapebias model file, or weights that do not fit.

    Example:
        >>> from shapebias.training import load_model
        >>> load_model("missing.pt")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no shapebias-model file at missing.pt.
    """
    record = read_record(path, MODEL_FORMAT, map_location)
    if model is not None:
        load_state_strict(unwrap(check_module(model)), record["state_dict"], f"{path}")
    return dict(record["meta"])
