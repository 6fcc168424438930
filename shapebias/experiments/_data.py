"""The protocol's data: training, validation and test splits as tensors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import shapebias.data
from shapebias.data import (
    SHAPE_TEXTURE_AXES,
    ShapeTextureDataset,
    caltech256,
    cifar10,
    dataset_tensors,
    image_folder,
    tiny_imagenet,
)
from shapebias.distortions import cue_conflict
from shapebias.experiments._settings import Settings

__all__ = ["ExperimentData", "dataset_axes", "load_data"]

Split = tuple[torch.Tensor, ...]


@dataclasses.dataclass
class ExperimentData:
    """Every split of one reproduction, as ``(images, labels, ...)`` tensors.

    Attributes:
        train, validation: the training images and the per-epoch validation images
            (from the training split: never a test image).
        test: the test images every distorted test set is made from.
        cue_conflict: images whose shape and texture classes differ
            ``(images, shape_labels, texture_labels)``.
        num_classes: the number of classes.
        shape_only, texture_only: one cue alone (ShapeTextureDataset only; None else).
        train_shape_only, validation_shape_only: the shape-only control's training
            splits (ShapeTextureDataset only).
    """

    train: Split
    validation: Split
    test: Split
    cue_conflict: Split
    num_classes: int
    shape_only: Split | None = None
    texture_only: Split | None = None
    train_shape_only: Split | None = None
    validation_shape_only: Split | None = None

    def split(self, name: str) -> Split:
        """The split called ``name`` (``"train_shape_only"``); KeyError if it is missing."""
        value = getattr(self, name, None)
        if not isinstance(value, tuple):
            raise KeyError(name)
        return value

    def has(self, name: str) -> bool:
        """Whether the split ``name`` exists."""
        return isinstance(getattr(self, name, None), tuple)

    def to(self, device: torch.device) -> ExperimentData:
        """Every split on ``device``."""
        moved: dict[str, Any] = {
            f.name: tuple(t.to(device) for t in getattr(self, f.name))
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), tuple)
        }
        return dataclasses.replace(self, **moved)


def dataset_axes() -> dict[str, Any]:
    """ShapeTextureDataset settings: each axis's default, then the calibrated values."""
    calibrated = getattr(shapebias.data, "CALIBRATED_AXES", {})
    return {axis.name: calibrated.get(axis.name, axis.default) for axis in SHAPE_TEXTURE_AXES}


def _resize(size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def transform(image: torch.Tensor) -> torch.Tensor:
        resized = nn.functional.interpolate(
            image[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        return resized[0].clamp(0, 1)

    return transform


def load_data(
    settings: Settings, axes: dict[str, Any] | None = None, data_root: Path | None = None
) -> ExperimentData:
    """Train tensors, a validation split disjoint from every test split, and the test sets.

    Args:
        settings: the run's settings (``dataset``, ``seed`` and the data group).
        axes: ShapeTextureDataset keywords (default :func:`dataset_axes`).
        data_root: the folder of a real data set (nothing is downloaded).

    Returns:
        An :class:`ExperimentData`; ``shape_only``/``texture_only`` (and the shape-only
        control's splits) exist only for ShapeTextureDataset.

    Raises:
        ValueError: a real data set without ``data_root``.
    """
    if settings.dataset == "shapetexture":
        return _shape_texture_data(settings, dataset_axes() if axes is None else axes)
    if data_root is None:
        raise ValueError(
            f"dataset {settings.dataset!r} needs data_root (a folder; nothing is downloaded)."
        )
    data = settings.data
    transform = _resize(data.image_size)
    root = Path(data_root)
    train: Any
    test: Any
    if settings.dataset == "cifar10":
        train, test = cifar10(root, train=True), cifar10(root, train=False)
    elif settings.dataset == "tinyimagenet":
        train = tiny_imagenet(root, split="train", transform=transform)
        test = tiny_imagenet(root, split="val", transform=transform)
    elif settings.dataset == "caltech256":
        train = caltech256(root, split="train", seed=settings.seed, transform=transform)
        test = caltech256(root, split="test", seed=settings.seed, transform=transform)
    else:
        train = image_folder(root / "train", transform=transform)
        test = image_folder(root / "test", transform=transform)
    generator = torch.Generator().manual_seed(settings.seed)
    test_tensors = dataset_tensors(
        test, torch.randperm(len(test), generator=generator)[: data.test_size].tolist()
    )
    # The validation images come from the training split: never a test image.
    order = torch.randperm(len(train), generator=generator).tolist()
    validation = order[: data.validation_size]
    training = order[data.validation_size : data.validation_size + data.train_size]
    images, labels = test_tensors
    other = torch.roll(torch.arange(len(labels)), 1)
    conflict = cue_conflict(
        images, images[other], labels, labels[other], pairing="zip", generator=generator
    )
    return ExperimentData(
        train=dataset_tensors(train, training),
        validation=dataset_tensors(train, validation),
        test=test_tensors,
        cue_conflict=tuple(conflict),
        num_classes=int(labels.max()) + 1,
    )


def _shape_texture_data(settings: Settings, axes: dict[str, Any]) -> ExperimentData:
    data = settings.data
    common = {
        "num_classes": data.num_classes,
        "image_size": data.image_size,
        "seed": settings.seed,
        **axes,
    }
    train_count, validation_count, test_count = (
        data.train_size,
        data.validation_size,
        data.test_size,
    )
    # Validation: the last items of the train split (its own random stream, never a
    # test split's). Shape-only: test items first, then validation, then training.
    train = ShapeTextureDataset("train", size=train_count + validation_count, **common)
    shape_only = ShapeTextureDataset(
        "shape_only", size=test_count + validation_count + train_count, **common
    )
    return ExperimentData(
        train=dataset_tensors(train, range(train_count)),
        validation=dataset_tensors(train, range(train_count, len(train))),
        train_shape_only=dataset_tensors(
            shape_only, range(test_count + validation_count, len(shape_only))
        ),
        validation_shape_only=dataset_tensors(
            shape_only, range(test_count, test_count + validation_count)
        ),
        test=dataset_tensors(ShapeTextureDataset("test", size=test_count, **common)),
        shape_only=dataset_tensors(shape_only, range(test_count)),
        texture_only=dataset_tensors(
            ShapeTextureDataset("texture_only", size=test_count, **common)
        ),
        cue_conflict=dataset_tensors(
            ShapeTextureDataset("cue_conflict", size=test_count, **common)
        ),
        num_classes=data.num_classes,
    )
