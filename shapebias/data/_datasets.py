"""Two small Dataset classes the loaders return: images in memory, and images in files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from shapebias._images import read_image

__all__ = ["ImageArrayDataset", "ImageFileDataset"]

Transform = Callable[[torch.Tensor], Any]


class ImageArrayDataset(Dataset):
    """Images held in memory as ``uint8 (N, 3, H, W)``; items are ``(image, label)``.

    ``image`` is float32 ``(3, H, W)`` in ``[0, 1]`` (then ``transform`` if given),
    ``label`` a python int.

    Shape:
        Items: image ``(3, H, W)`` (before ``transform``).

    Attributes:
        data: ``uint8`` tensor ``(N, 3, H, W)``.
        targets: list of ``N`` class indices.
        classes: class names, indexed by label.
    """

    def __init__(
        self,
        data: torch.Tensor,
        targets: Sequence[int],
        classes: Sequence[str],
        transform: Transform | None = None,
    ) -> None:
        self.data = data
        self.targets = list(targets)
        self.classes = list(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.data[index].float().div_(255.0)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]


class ImageFileDataset(Dataset):
    """Images decoded lazily from files (any format PIL reads, converted to RGB).

    Items are ``(image, label)``: ``image`` float32 ``(3, H, W)`` in ``[0, 1]`` (then
    ``transform`` if given; images of different sizes need a resizing transform before
    default batching), ``label`` a python int. Files are decoded by the package's one
    reader, :func:`shapebias._images.read_image`.

    Shape:
        Items: image ``(3, H, W)``, the file's size (before ``transform``).

    Attributes:
        samples: list of ``(path, label)``.
        targets: list of labels.
        classes: class names, indexed by label.
    """

    def __init__(
        self,
        samples: Sequence[tuple[Path, int]],
        classes: Sequence[str],
        transform: Transform | None = None,
    ) -> None:
        self.samples = list(samples)
        self.targets = [label for _, label in self.samples]
        self.classes = list(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        image = read_image(path)
        if self.transform is not None:
            image = self.transform(image)
        return image, label
